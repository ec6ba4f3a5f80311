/**
 * The generated configuration as text: a `.ts`/`.mjs`/`.js` module with `defineConfig` and comments, or plain
 * JSON. Keys keep the order inference gave them (sorted field names), so the same data gives the same file.
 */
import type { ModelSpec } from '../types.js'
import { TENANT_FIELD_NAMES, type InferredModel } from './infer-model.js'

export const OUTPUT_FORMATS = { '.ts': 'module', '.mts': 'module', '.mjs': 'module', '.js': 'module', '.json': 'json' } as const
export type OutputFormat = (typeof OUTPUT_FORMATS)[keyof typeof OUTPUT_FORMATS]

/** Lines longer than this are broken, one key per line. */
const WIDTH = 110
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

const quote = (text: string): string =>
  `'${JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`
const key = (name: string): string => (IDENTIFIER.test(name) ? name : quote(name))

function inline(value: unknown): string {
  if (typeof value === 'string') return quote(value)
  if (value === null || typeof value !== 'object') return String(value)
  const entries = Object.entries(value)
  return entries.length === 0 ? '{}' : `{ ${entries.map(([name, item]) => `${key(name)}: ${inline(item)}`).join(', ')} }`
}

/** A value after `prefix` at `indent`: on one line when it fits, else one key per line. */
function render(value: unknown, indent: string, prefix: string): string {
  const short = inline(value)
  if (value === null || typeof value !== 'object' || indent.length + prefix.length + short.length + 1 <= WIDTH) return short
  const inner = `${indent}  `
  const lines = Object.entries(value).map(([name, item]) => `${inner}${key(name)}: ${render(item, inner, `${key(name)}: `)},`)
  return `{\n${lines.join('\n')}\n${indent}}`
}

const sampled = (n: number): string => `${n} sampled document${n === 1 ? '' : 's'}`

function sourceSentence(model: InferredModel): string {
  const { collection } = model.spec
  if (model.source.kind === 'validator') return `${collection}: fields from its $jsonSchema validator.`
  return `${collection}: fields from ${sampled(model.source.documents)}.`
}

/** The one-line note for a model without a tenant field. */
export function tenantNote(model: InferredModel): string {
  return (
    `No tenant field found (${TENANT_FIELD_NAMES.join(', ')}): every authenticated caller sees every ${model.name}. ` +
    `To scope it, set tenantField to the dotted path of the tenant in the document.`
  )
}

/** What the generator prints for each collection: `Ticket ← tickets (validator, tenant field orgId)`. */
export function summaryLine(model: InferredModel): string {
  if (!hasFields(model)) return `left out ${leftOutNote(model)}`
  const source = model.source.kind === 'validator' ? 'validator' : sampled(model.source.documents)
  const tenant = model.spec.tenantField ? `tenant field ${model.spec.tenantField}` : 'no tenant field'
  const skipped = model.skipped.length ? `, ${model.skipped.length} field${model.skipped.length === 1 ? '' : 's'} skipped` : ''
  return `${model.name} ← ${model.spec.collection} (${source}, ${tenant}${skipped})`
}

function wrapComment(text: string, indent: string): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line && indent.length + 3 + line.length + 1 + word.length > WIDTH) {
      lines.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  if (line) lines.push(line)
  return lines.map((text) => `${indent}// ${text}`)
}

function renderModel(model: InferredModel): string[] {
  const indent = '    '
  const inner = `${indent}  `
  const spec: ModelSpec = model.spec
  const lines = wrapComment(sourceSentence(model), indent)
  for (const { path, reason } of model.skipped) lines.push(...wrapComment(`Skipped ${quote(path)}: ${reason}.`, indent))
  lines.push(`${indent}${key(model.name)}: {`, `${inner}collection: ${quote(spec.collection)},`)
  if (spec.tenantField === null) lines.push(...wrapComment(tenantNote(model), inner))
  lines.push(`${inner}tenantField: ${spec.tenantField === null ? 'null' : quote(spec.tenantField)},`)
  lines.push(`${inner}fields: {`)
  for (const [name, field] of Object.entries(spec.fields)) {
    lines.push(`${inner}  ${key(name)}: ${render(field, `${inner}  `, `${key(name)}: `)},`)
  }
  lines.push(`${inner}},`, `${indent}},`)
  return lines
}

/** Why a collection has no model: `events: no validator and no documents to sample`. */
export function leftOutNote(model: InferredModel): string {
  const { collection } = model.spec
  if (model.source.kind === 'sample' && model.source.documents === 0) return `${collection}: no validator and no documents to sample`
  return `${collection}: none of its fields has a GraphQL type`
}

/** Whether the model has something to serve; one without fields is left out of the configuration. */
export const hasFields = (model: InferredModel): boolean => Object.keys(model.spec.fields).length > 0

/**
 * A configuration module: `import { defineConfig } from 'changegate'` and the models as its default export;
 * models without fields are listed in a comment.
 */
export function renderModule(all: readonly InferredModel[], database: string): string {
  const models = all.filter(hasFields)
  const leftOut = all.filter((model) => !hasFields(model))
  const header = wrapComment(
    `Written by \`npm run init\` from the collections of database ${quote(database)}. Review the fields, add ` +
      `filterable fields, relations and shorthands where you need them (README, "Start from existing data"), then ` +
      '`npm start` with CHANGEGATE_CONFIG pointing here (or keep the default name changegate.config.ts).',
    '',
  )
  return [
    ...header,
    "import { defineConfig } from 'changegate'",
    '',
    'export default defineConfig({',
    '  models: {',
    ...models.flatMap(renderModel),
    ...leftOut.flatMap((model) => wrapComment(`Left out ${leftOutNote(model)}.`, '    ')),
    '  },',
    '})',
    '',
  ].join('\n')
}

/** Plain JSON: the same models, no comments (the tenant notes go to stderr instead). */
export function renderJson(all: readonly InferredModel[]): string {
  const models = all.filter(hasFields).map((model) => [model.name, model.spec])
  return `${JSON.stringify({ models: Object.fromEntries(models) }, null, 2)}\n`
}
