/** Names the generator invents: model type names from collection names, enum values from stored strings. */
import { isGraphqlName } from './shape.js'

/** Type names the generated schema defines itself; a model may not take them. */
const RESERVED_TYPE_NAMES = new Set([
  'Query', 'Mutation', 'Subscription', 'String', 'Int', 'Float', 'Boolean', 'ID', 'ObjectId', 'DateTime', 'JSON',
  'Cursor', 'OperationType', 'Transition', 'FieldChange',
])

const IRREGULAR: Readonly<Record<string, string>> = {
  people: 'person', children: 'child', men: 'man', women: 'woman', mice: 'mouse', geese: 'goose', feet: 'foot',
  teeth: 'tooth', indices: 'index', matrices: 'matrix', vertices: 'vertex', criteria: 'criterion',
}
const UNCHANGED = new Set(['news', 'series', 'species', 'data', 'metadata', 'status', 'analysis', 'info', 'settings'])

/** English singular of one lower-case word (the common rules; an irregular word may come out unchanged). */
export function singularize(word: string): string {
  if (IRREGULAR[word]) return IRREGULAR[word]
  if (UNCHANGED.has(word) || word.length < 3) return word
  if (/[^aeiou]ies$/.test(word)) return `${word.slice(0, -3)}y`
  if (/(ss|x|z|ch|sh)es$/.test(word)) return word.slice(0, -2)
  if (/(ss|us|is)$/.test(word)) return word
  if (word.endsWith('s')) return word.slice(0, -1)
  return word
}

/** Words of an identifier: `order_items` and `orderItems` → ['order', 'items']. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((word) => word.toLowerCase())
}

const capitalize = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1)

/** PascalCase singular of a collection name: `tickets` → `Ticket`, `order_items` → `OrderItem`. */
export function modelNameFor(collection: string): string {
  const parts = words(collection)
  if (parts.length === 0) return 'Model'
  parts[parts.length - 1] = singularize(parts[parts.length - 1])
  const name = parts.map(capitalize).join('')
  const valid = /^[0-9]/.test(name) ? `Model${name}` : name
  return RESERVED_TYPE_NAMES.has(valid) ? `${valid}Model` : valid
}

/** Model names for the collections, in the same order; a name already taken gets a number (`Ticket2`). */
export function uniqueModelNames(collections: readonly string[]): string[] {
  const taken = new Set<string>()
  return collections.map((collection) => {
    const base = modelNameFor(collection)
    let name = base
    for (let n = 2; taken.has(name); n++) name = `${base}${n}`
    taken.add(name)
    return name
  })
}

/** CONSTANT_CASE GraphQL value for a stored string: `in-progress` and `inProgress` → `IN_PROGRESS`. */
export function enumValueName(stored: string): string {
  const constant = stored
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .join('_')
    .toUpperCase()
  if (!constant) return stored === '' ? 'EMPTY' : 'VALUE'
  const name = /^[0-9]/.test(constant) ? `V_${constant}` : constant
  return isGraphqlName(name) ? name : `V_${name}`
}

/** GraphQL value → stored value for distinct stored strings, in their order; clashing names get `_2`, `_3` … */
export function enumValues(stored: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {}
  for (const value of new Set(stored)) {
    const base = enumValueName(value)
    let name = base
    for (let n = 2; name in values; n++) name = `${base}_${n}`
    values[name] = value
  }
  return values
}
