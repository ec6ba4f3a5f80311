import { checkFieldName, FieldSpecError, isComparable, resolveField, walkFields, type ResolvedField } from './field-types.js'
import { camelCase, constantCase, GRAPHQL_NAME, plural, TYPE_NAME } from './naming.js'
import { createModelRegistry, type Model, type ModelRegistry, type ResolvedRelation, type ResolvedShorthand } from './registry.js'
import { COMPARISON_OPS, SHORTHAND_OPS, type AuthSpec, type ModelSpec, type ShorthandOp } from './types.js'

/** An invalid configuration file: one line naming the model, the field and the problem. */
export class ConfigFileError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigFileError'
  }
}

const TOP_KEYS = new Set(['models', 'auth'])
const MODEL_KEYS = new Set([
  'collection', 'tenantField', 'fields', 'filterable', 'relations', 'shorthands', 'subscription', 'list', 'names',
  'description', 'idType', 'listFilter',
])
const AUTH_KEYS = new Set(['jwksUrl', 'issuer', 'audience', 'claims'])
const CLAIM_KEYS = new Set(['sub', 'tenant', 'scope'])
const COLLECTION_NAME = /^(?!system\.)[^$\0]{1,120}$/
const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/
/** Filter arguments every change filter has; shorthands may not take these names. */
const FILTER_ARGUMENTS = new Set(['id', 'operationTypes', 'where', 'changed'])
const RELATION_KEY_SCALARS = new Set(['ObjectId', 'ID', 'String'])

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** Validates a configuration object and resolves it into the model registry; throws {@link ConfigFileError}. */
export function resolveConfig(raw: unknown): ModelRegistry {
  if (!isObject(raw)) throw new ConfigFileError('configuration: must be an object with a `models` key')
  for (const key of Object.keys(raw)) if (!TOP_KEYS.has(key)) throw new ConfigFileError(`configuration: unknown key ${JSON.stringify(key)}`)
  if (!isObject(raw.models) || Object.keys(raw.models).length === 0) {
    throw new ConfigFileError('configuration: `models` must declare at least one model')
  }
  const specs = Object.entries(raw.models)
  const models = specs.map(([name, spec]) => resolveModel(name, spec))
  for (const model of models) checkRelations(model, models)
  checkUnique(models)
  checkTypeNames(models)
  return createModelRegistry(models, resolveAuth(raw.auth))
}

function fail(model: string, field: string | undefined, problem: string): never {
  throw new ConfigFileError(`model ${model}${field ? `, field ${field}` : ''}: ${problem}`)
}

function resolveModel(name: string, raw: unknown): Model & { readonly pending: PendingRelation[] } {
  if (!TYPE_NAME.test(name)) fail(name, undefined, 'model names are GraphQL type names in PascalCase (e.g. Ticket)')
  if (!isObject(raw)) fail(name, undefined, 'must be an object')
  for (const key of Object.keys(raw)) if (!MODEL_KEYS.has(key)) fail(name, undefined, `unknown key ${JSON.stringify(key)}`)
  const spec = raw as unknown as ModelSpec
  if (typeof spec.collection !== 'string' || !COLLECTION_NAME.test(spec.collection)) fail(name, undefined, '`collection` must be a collection name')
  if (spec.tenantField === undefined) fail(name, undefined, '`tenantField` is required: a dotted path, or null for a model every caller sees')
  if (spec.tenantField !== null && (typeof spec.tenantField !== 'string' || !PATH.test(spec.tenantField))) {
    fail(name, 'tenantField', 'must be a dotted field path or null')
  }
  if (!isObject(spec.fields) || Object.keys(spec.fields).length === 0) fail(name, undefined, '`fields` must declare at least one field')
  const idType = spec.idType ?? 'ObjectId'
  if (idType !== 'ObjectId' && idType !== 'String') fail(name, 'idType', 'must be ObjectId or String')

  let fields: ResolvedField[]
  try {
    fields = Object.entries(spec.fields).map(([field, fieldSpec]) => {
      checkFieldName(field, field)
      if (field === 'id' || field === '_id') throw new FieldSpecError(field, '`id` is implicit (from _id); do not declare it')
      return resolveField(field, fieldSpec, name, '')
    })
  } catch (error) {
    if (error instanceof FieldSpecError) fail(name, error.field, error.message)
    throw error
  }

  const all = new Map([...walkFields(fields)].map((f) => [f.path, f]))
  const tenant = spec.tenantField === null ? undefined : all.get(spec.tenantField)
  if (tenant && (tenant.kind !== 'scalar' || tenant.list || (tenant.scalar !== 'String' && tenant.scalar !== 'ID'))) {
    // The token's tenant is a string and is compared as stored: an ObjectId or a number would never match.
    fail(name, spec.tenantField!, 'the tenant field must be a String or ID field (tenants are compared as strings)')
  }
  const segments = spec.tenantField?.split('.') ?? []
  for (let n = 1; n < segments.length; n++) {
    const parent = segments.slice(0, n).join('.')
    // A document has one tenant: a path through a list would give it one per element.
    if (all.get(parent)?.list) fail(name, spec.tenantField!, `the tenant field must not be inside a list (${parent} is a list)`)
  }
  const filterable = new Map<string, ResolvedField>()
  if (spec.filterable !== undefined) {
    if (!Array.isArray(spec.filterable)) fail(name, 'filterable', 'must be a list of field paths')
    for (const path of spec.filterable) {
      const field = typeof path === 'string' ? all.get(path) : undefined
      if (!field) fail(name, String(path), 'is listed in `filterable` but not declared in `fields`')
      if (!isComparable(field)) fail(name, path, 'is not filterable: only scalars (not JSON) and enums are')
      filterable.set(path, field)
    }
  } else {
    for (const field of all.values()) if (isComparable(field) && field.path !== spec.tenantField) filterable.set(field.path, field)
  }

  const type = name
  const single = camelCase(type)
  const names = {
    type,
    single,
    before: `${single}Before`,
    list: optionalName(name, 'list', spec.list) ?? plural(single),
    subscription: optionalName(name, 'subscription', spec.subscription) ?? `${single}Changed`,
    event: `${type}ChangeEvent`,
    changeFilter: optionalName(name, 'names.changeFilter', spec.names?.changeFilter) ?? `${type}ChangeFilter`,
    where: `${type}Where`,
    fieldEnum: optionalName(name, 'names.fieldEnum', spec.names?.fieldEnum) ?? `${type}Field`,
    page: `${type}Page`,
    listFilter: `${type}Filter`,
  }
  if (spec.names !== undefined) {
    if (!isObject(spec.names)) fail(name, 'names', 'must be an object')
    for (const key of Object.keys(spec.names)) if (key !== 'changeFilter' && key !== 'fieldEnum') fail(name, 'names', `unknown key ${JSON.stringify(key)}`)
  }
  if (spec.description !== undefined && typeof spec.description !== 'string') fail(name, 'description', 'must be a string')
  if (spec.listFilter !== undefined && typeof spec.listFilter !== 'boolean') fail(name, 'listFilter', 'must be true or false')

  const fieldEnum = fields.filter((f) => f.name !== spec.tenantField).map((f) => ({ name: constantCase(f.name), stored: f.name }))
  for (const [n, value] of fieldEnum.entries()) {
    const first = fieldEnum.find((v) => v.name === value.name)!
    if (first !== fieldEnum[n]) fail(name, value.stored, `its ${names.fieldEnum} value ${value.name} is also the value of field ${first.stored}; rename one`)
  }
  const shorthands = resolveShorthands(name, spec.shorthands, filterable, all)
  const pending = resolvePendingRelations(name, spec.relations, fields)
  return {
    names,
    collection: spec.collection,
    tenantField: spec.tenantField,
    idType,
    description: spec.description,
    fields,
    filterable,
    relations: [],
    shorthands,
    listFilter: spec.listFilter ?? false,
    fieldEnum,
    pending,
  }
}

function optionalName(model: string, key: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !GRAPHQL_NAME.test(value)) fail(model, key, 'must be a GraphQL name')
  return value
}

const FIELDLESS_OPS: ReadonlySet<ShorthandOp> = new Set(['changed', 'changedNames'])
const ID_OPS: ReadonlySet<ShorthandOp> = new Set(['eq', 'in'])
const LIST_OPS: ReadonlySet<ShorthandOp> = new Set(['contains', 'containsAny', 'isEmpty'])

function resolveShorthands(
  model: string,
  raw: unknown,
  filterable: ReadonlyMap<string, ResolvedField>,
  all: ReadonlyMap<string, ResolvedField>,
): ResolvedShorthand[] {
  if (raw === undefined) return []
  if (!isObject(raw)) fail(model, 'shorthands', 'must be an object')
  return Object.entries(raw).map(([name, spec]) => {
    const at = `shorthands.${name}`
    if (!GRAPHQL_NAME.test(name) || FILTER_ARGUMENTS.has(name)) fail(model, at, `is not a usable argument name (reserved: ${[...FILTER_ARGUMENTS].join(', ')})`)
    if (!isObject(spec)) fail(model, at, 'must be { field, op }')
    for (const key of Object.keys(spec)) if (!['field', 'op', 'description'].includes(key)) fail(model, at, `unknown key ${JSON.stringify(key)}`)
    const op = spec.op as ShorthandOp
    if (!(SHORTHAND_OPS as readonly string[]).includes(op)) fail(model, at, `op must be one of ${SHORTHAND_OPS.join(', ')}`)
    if (spec.description !== undefined && typeof spec.description !== 'string') fail(model, at, 'description must be a string')
    const description = spec.description as string | undefined
    if (FIELDLESS_OPS.has(op)) {
      if (spec.field !== undefined) fail(model, at, `op ${op} takes no field`)
      return { name, op, field: undefined, description }
    }
    if (spec.field === 'id') {
      if (!ID_OPS.has(op)) fail(model, at, 'the id takes only eq or in')
      return { name, op, field: 'id', description }
    }
    const field = typeof spec.field === 'string' ? (op === 'changedTo' ? all.get(spec.field) : filterable.get(spec.field)) : undefined
    if (!field) fail(model, at, `field ${JSON.stringify(spec.field)} is not a ${op === 'changedTo' ? 'declared' : 'filterable'} field`)
    if (op === 'changedTo' && (field.path.includes('.') || !isComparable(field) || field.list)) {
      fail(model, at, 'changedTo needs a top-level scalar or enum field')
    }
    if (LIST_OPS.has(op) !== field.list && (COMPARISON_OPS as readonly string[]).includes(op) && op !== 'exists') {
      fail(model, at, field.list ? `${field.path} is a list: use contains, containsAny, isEmpty or exists` : `${op} needs a list field`)
    }
    return { name, op, field, description }
  })
}

interface PendingRelation {
  readonly name: string
  readonly model: string
  readonly field: ResolvedField
}

function resolvePendingRelations(model: string, raw: unknown, fields: readonly ResolvedField[]): PendingRelation[] {
  if (raw === undefined) return []
  if (!isObject(raw)) fail(model, 'relations', 'must be an object')
  return Object.entries(raw).map(([name, spec]) => {
    const at = `relations.${name}`
    if (!GRAPHQL_NAME.test(name)) fail(model, at, 'is not a valid GraphQL field name')
    if (fields.some((f) => f.name === name) || name === 'id') fail(model, at, 'has the name of a field')
    if (!isObject(spec) || typeof spec.model !== 'string' || typeof spec.field !== 'string') fail(model, at, 'must be { model, field }')
    for (const key of Object.keys(spec)) if (key !== 'model' && key !== 'field') fail(model, at, `unknown key ${JSON.stringify(key)}`)
    const field = fields.find((f) => f.name === spec.field)
    if (!field || field.kind !== 'scalar' || field.list || !RELATION_KEY_SCALARS.has(field.scalar)) {
      fail(model, at, `field ${JSON.stringify(spec.field)} must be a top-level ObjectId, ID or String field`)
    }
    return { name, model: spec.model, field }
  })
}

function checkRelations(model: Model & { readonly pending: PendingRelation[] }, models: readonly Model[]): void {
  const relations: ResolvedRelation[] = []
  for (const relation of model.pending) {
    if (!models.some((m) => m.names.type === relation.model)) {
      fail(model.names.type, `relations.${relation.name}`, `model ${JSON.stringify(relation.model)} is not configured`)
    }
    relations.push(relation)
  }
  ;(model as { relations: readonly ResolvedRelation[] }).relations = relations
  delete (model as { pending?: unknown }).pending
}

function checkUnique(models: readonly Model[]): void {
  const seen = new Map<string, string>()
  /** `key` is the configuration key that set the name (undefined for names derived from the model name). */
  const claim = (kind: string, value: string, model: string, key: string | undefined) => {
    const other = seen.get(`${kind}:${value}`)
    if (other !== undefined) fail(model, key, `${kind} ${JSON.stringify(value)} is also used by ${other === 'the gateway' ? other : `model ${other}`}`)
    seen.set(`${kind}:${value}`, model)
  }
  for (const field of GATEWAY_QUERIES) seen.set(`query:${field}`, 'the gateway')
  for (const m of models) {
    claim('collection', m.collection, m.names.type, 'collection')
    claim('subscription', m.names.subscription, m.names.type, 'subscription')
    claim('query', m.names.single, m.names.type, undefined)
    claim('query', m.names.list, m.names.type, 'list')
  }
}

function resolveAuth(raw: unknown): AuthSpec | undefined {
  if (raw === undefined) return undefined
  const at = (problem: string) => new ConfigFileError(`auth: ${problem}`)
  if (!isObject(raw)) throw at('must be an object')
  for (const key of Object.keys(raw)) if (!AUTH_KEYS.has(key)) throw at(`unknown key ${JSON.stringify(key)}`)
  if (raw.jwksUrl !== undefined) {
    let url: URL | undefined
    try {
      url = new URL(String(raw.jwksUrl))
    } catch {
      url = undefined
    }
    if (typeof raw.jwksUrl !== 'string' || !url || !['https:', 'http:'].includes(url.protocol)) throw at('jwksUrl must be an http(s) URL')
  }
  if (raw.issuer !== undefined && (typeof raw.issuer !== 'string' || raw.issuer.length === 0)) throw at('issuer must be a non-empty string')
  if (raw.jwksUrl !== undefined && (raw.issuer === undefined || raw.audience === undefined)) {
    // Without both, any token the identity provider signs for any application would be accepted.
    throw at('issuer and audience are required with jwksUrl')
  }
  const audience = raw.audience
  const isName = (a: unknown) => typeof a === 'string' && a.length > 0
  if (audience !== undefined && !isName(audience) && !(Array.isArray(audience) && audience.length > 0 && audience.every(isName))) {
    // An empty audience would make every token fail verification, with nothing in the logs saying why.
    throw at('audience must be a non-empty string or a non-empty list of them')
  }
  if (raw.claims !== undefined) {
    if (!isObject(raw.claims)) throw at('claims must be an object')
    for (const [key, value] of Object.entries(raw.claims)) {
      if (!CLAIM_KEYS.has(key)) throw at(`claims: unknown key ${JSON.stringify(key)}`)
      if (typeof value !== 'string' || value.length === 0) throw at(`claims.${key} must be a claim name or dotted path`)
    }
  }
  return raw as AuthSpec
}

/** Root query fields and types the gateway defines itself (src/schema/queries, src/schema/types). */
const GATEWAY_QUERIES = ['changeCursor', 'streams', 'gatewayNodes', 'explainSubscription']
const GATEWAY_TYPES = new Set([
  'Query', 'Subscription', 'Mutation', 'DateTime', 'JSON', 'Cursor', 'OperationType', 'Transition', 'FilterLocation', 'StreamState',
  'StreamStatus', 'GatewayNode', 'SubscriptionPlan', 'FieldChange', 'ID', 'Int', 'Float', 'String', 'Boolean',
  ...['String', 'Int', 'Float', 'Boolean', 'ID', 'DateTime', 'JSON'].flatMap((s) => [`${s}Comparison`, `${s}ListComparison`]),
])

/**
 * Every GraphQL type the configuration generates has one name. Enums may share a `typeName` when their values are
 * identical (the schema declares such an enum once); nested objects may not (each is implemented with its model).
 */
function checkTypeNames(models: readonly Model[]): void {
  const seen = new Map<string, { readonly owner: string; readonly shape: string | undefined }>()
  const claim = (typeName: string, model: string, field: string | undefined, shape?: string) => {
    if (GATEWAY_TYPES.has(typeName)) fail(model, field, `type name ${JSON.stringify(typeName)} is reserved by the gateway`)
    const other = seen.get(typeName)
    if (other !== undefined && (shape === undefined || other.shape !== shape)) {
      fail(model, field, `type name ${JSON.stringify(typeName)} is also used by ${other.owner}`)
    }
    seen.set(typeName, { owner: `model ${model}${field ? `, field ${field}` : ''}`, shape })
  }
  for (const m of models) {
    const { type, event, changeFilter, where, fieldEnum, page, listFilter } = m.names
    for (const name of [type, event, changeFilter, where, fieldEnum, page, ...(m.listFilter ? [listFilter] : [])]) claim(name, type, undefined)
    for (const field of walkFields(m.fields)) {
      if (field.kind === 'scalar') continue
      const shape = field.kind === 'enum' ? JSON.stringify(field.values) : undefined
      claim(field.typeName, type, field.path, shape)
      const derived = field.kind === 'object' ? ['Where'] : ['Comparison', 'ListComparison']
      for (const suffix of derived) claim(`${field.typeName}${suffix}`, type, field.path, shape)
    }
  }
}
