/** Names derived from a model's type name (DESIGN §8): `Ticket` → `ticket`, `tickets`, `TICKET`… */

export const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/
export const TYPE_NAME = /^[A-Z][A-Za-z0-9]*$/

export const camelCase = (typeName: string) => typeName.charAt(0).toLowerCase() + typeName.slice(1)
export const pascalCase = (name: string) => name.charAt(0).toUpperCase() + name.slice(1)

/** `dueAt` → `DUE_AT`, `sla` → `SLA`, `tenant_id` → `TENANT_ID`. */
export const constantCase = (name: string) =>
  name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase()

/** English plural good enough for names: `ticket` → `tickets`, `category` → `categories`, `box` → `boxes`. */
export function plural(word: string): string {
  if (/[^aeiou]y$/i.test(word)) return `${word.slice(0, -1)}ies`
  if (/(s|x|z|ch|sh)$/i.test(word)) return `${word}es`
  return `${word}s`
}

/** The inverse, for naming one element of a list field: `items` → `item`, `categories` → `category`. */
export function singular(word: string): string {
  if (/[^aeiou]ies$/i.test(word)) return `${word.slice(0, -3)}y`
  if (/(ss|x|z|ch|sh)es$/i.test(word)) return word.slice(0, -2)
  if (/[^s]s$/i.test(word)) return word.slice(0, -1)
  return word
}
