/**
 * MongoDB's `$jsonSchema` (draft 4 subset plus `bsonType`), compiled once into a checker that reports the
 * rules a value breaks in the shape of MongoDB 7.0's `errInfo.details.schemaRulesNotSatisfied`.
 * Keywords that apply to one type (minimum, properties, items…) pass values of other types, as in MongoDB.
 */
import { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type Document } from 'bson'
import { canonicalKey, isPlainObject } from '../bson-values.js'
import { compareBson } from '../changes/bson-compare.js'
import { ErrorCode, mongoError } from '../errors.js'

/** Returns the rules `value` does not satisfy; empty when it matches. */
export type SchemaCheck = (value: unknown) => Document[]

const BSON_TYPES = new Set([
  'double', 'string', 'object', 'array', 'binData', 'undefined', 'objectId', 'bool', 'date', 'null', 'regex',
  'javascript', 'symbol', 'int', 'timestamp', 'long', 'decimal', 'minKey', 'maxKey', 'number', 'dbPointer',
])
const JSON_TYPES = new Set(['object', 'array', 'number', 'boolean', 'string', 'null'])
const UNSUPPORTED = new Set(['$ref', '$schema', 'default', 'definitions', 'format', 'id'])
const IGNORED = new Set(['title', 'description'])

const parseError = (message: string) => mongoError(ErrorCode.FailedToParse, message)

/** The BSON type alias of a stored value. */
export function bsonTypeOf(v: unknown): string {
  if (v === null) return 'null'
  if (v === undefined) return 'undefined'
  if (typeof v === 'string') return 'string'
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) <= 0x7fffffff ? 'int' : 'double'
  if (Array.isArray(v)) return 'array'
  if (v instanceof Date) return 'date'
  if (v instanceof RegExp) return 'regex'
  if (v instanceof Double) return 'double'
  if (v instanceof Int32) return 'int'
  if (v instanceof Long) return 'long'
  if (v instanceof Decimal128) return 'decimal'
  if (v instanceof ObjectId) return 'objectId'
  if (v instanceof Binary) return 'binData'
  if (v instanceof Timestamp) return 'timestamp'
  const tagged = (v as { _bsontype?: string })._bsontype
  if (tagged === 'MinKey') return 'minKey'
  if (tagged === 'MaxKey') return 'maxKey'
  if (tagged === 'Code') return 'javascript'
  return 'object'
}

const NUMERIC = new Set(['int', 'long', 'double', 'decimal'])
const JSON_TYPE_OF: Record<string, string> = { bool: 'boolean', int: 'number', long: 'number', double: 'number', decimal: 'number' }

function typeMatches(v: unknown, wanted: string, json: boolean): boolean {
  const actual = bsonTypeOf(v)
  if (json) return (JSON_TYPE_OF[actual] ?? actual) === wanted
  return wanted === 'number' ? NUMERIC.has(actual) : actual === wanted
}

const rule = (operatorName: string, specifiedAs: unknown, extra: Document): Document => ({ operatorName, specifiedAs: { [operatorName]: specifiedAs }, ...extra })

const asCount = (v: unknown, keyword: string): number => {
  const n = Number((v as { valueOf(): unknown })?.valueOf())
  if (!Number.isInteger(n) || n < 0) throw parseError(`$jsonSchema keyword '${keyword}' must be a non-negative integral number`)
  return n
}

function typeList(v: unknown, keyword: string, known: Set<string>): string[] {
  const list = Array.isArray(v) ? v : [v]
  for (const t of list) {
    if (typeof t !== 'string' || !known.has(t)) throw parseError(`Unknown type name alias: ${String(t)}`)
  }
  if (list.length === 0) throw parseError(`$jsonSchema keyword '${keyword}' must name at least one type`)
  return list as string[]
}

/** Compiles a `$jsonSchema` object; MongoDB's FailedToParse for unknown or unsupported keywords. */
export function compileJsonSchema(schema: unknown): SchemaCheck {
  if (!isPlainObject(schema)) throw parseError('$jsonSchema must be an object')
  const checks: SchemaCheck[] = []
  const s = schema
  for (const keyword of Object.keys(s)) {
    if (IGNORED.has(keyword)) continue
    if (UNSUPPORTED.has(keyword)) throw parseError(`$jsonSchema keyword '${keyword}' is not currently supported`)
    const build = KEYWORDS[keyword]
    if (!build) throw parseError(`Unknown $jsonSchema keyword: ${keyword}`)
    const check = build(s[keyword], s)
    if (check) checks.push(check)
  }
  return (value) => checks.flatMap((check) => check(value))
}

type Builder = (arg: unknown, schema: Document) => SchemaCheck | undefined

const typeKeyword = (json: boolean): Builder => (arg) => {
  const name = json ? 'type' : 'bsonType'
  const types = typeList(arg, name, json ? JSON_TYPES : BSON_TYPES)
  return (v) =>
    types.some((t) => typeMatches(v, t, json))
      ? []
      : [rule(name, arg, { reason: 'type did not match', consideredValue: v, consideredType: bsonTypeOf(v) })]
}

const bound = (name: string, exclusiveKey: string, failsWhen: (cmp: number, exclusive: boolean) => boolean): Builder => (arg, schema) => {
  if (!NUMERIC.has(bsonTypeOf(arg))) throw parseError(`$jsonSchema keyword '${name}' must be a number`)
  const exclusive = schema[exclusiveKey] === true
  return (v) => {
    if (!NUMERIC.has(bsonTypeOf(v))) return []
    if (!failsWhen(compareBson(v, arg), exclusive)) return []
    const specified: Document = { [name]: arg }
    if (exclusive) specified[exclusiveKey] = true
    return [{ operatorName: name, specifiedAs: specified, reason: 'comparison failed', consideredValue: v }]
  }
}

const length = (name: string, bad: (len: number, n: number) => boolean, on: 'string' | 'array' | 'object', reason: string): Builder => (arg) => {
  const n = asCount(arg, name)
  return (v) => {
    if (bsonTypeOf(v) !== on) return []
    const len = on === 'string' ? [...(v as string)].length : on === 'array' ? (v as unknown[]).length : Object.keys(v as Document).length
    if (!bad(len, n)) return []
    return [rule(name, arg, on === 'object' ? { reason, numberOfProperties: len } : { reason, consideredValue: v })]
  }
}

function subSchemas(arg: unknown, keyword: string): SchemaCheck[] {
  if (!Array.isArray(arg) || arg.length === 0) throw parseError(`$jsonSchema keyword '${keyword}' must be a non-empty array`)
  return arg.map((sub) => compileJsonSchema(sub))
}

const KEYWORDS: Record<string, Builder> = {
  bsonType: typeKeyword(false),
  type: typeKeyword(true),
  minimum: bound('minimum', 'exclusiveMinimum', (cmp, ex) => cmp < 0 || (ex && cmp === 0)),
  maximum: bound('maximum', 'exclusiveMaximum', (cmp, ex) => cmp > 0 || (ex && cmp === 0)),
  exclusiveMinimum: () => undefined,
  exclusiveMaximum: () => undefined,
  minLength: length('minLength', (len, n) => len < n, 'string', 'specified string length was not satisfied'),
  maxLength: length('maxLength', (len, n) => len > n, 'string', 'specified string length was not satisfied'),
  minItems: length('minItems', (len, n) => len < n, 'array', 'array did not match specified length'),
  maxItems: length('maxItems', (len, n) => len > n, 'array', 'array did not match specified length'),
  minProperties: length('minProperties', (len, n) => len < n, 'object', 'specified number of properties was not satisfied'),
  maxProperties: length('maxProperties', (len, n) => len > n, 'object', 'specified number of properties was not satisfied'),
  pattern: (arg) => {
    if (typeof arg !== 'string') throw parseError("$jsonSchema keyword 'pattern' must be a string")
    const re = new RegExp(arg, 'u')
    return (v) => (typeof v !== 'string' || re.test(v) ? [] : [rule('pattern', arg, { reason: 'regular expression did not match', consideredValue: v })])
  },
  enum: (arg) => {
    if (!Array.isArray(arg) || arg.length === 0) throw parseError("$jsonSchema keyword 'enum' must be a non-empty array")
    return (v) => (arg.some((e) => compareBson(e, v) === 0) ? [] : [rule('enum', arg, { reason: 'value was not found in enum', consideredValue: v })])
  },
  required: (arg) => {
    if (!Array.isArray(arg) || arg.length === 0 || !arg.every((f) => typeof f === 'string')) {
      throw parseError("$jsonSchema keyword 'required' must be a non-empty array of strings")
    }
    return (v) => {
      if (!isPlainObject(v)) return []
      const missing = (arg as string[]).filter((f) => v[f] === undefined)
      return missing.length ? [rule('required', arg, { missingProperties: missing })] : []
    }
  },
  properties: (arg) => {
    if (!isPlainObject(arg)) throw parseError("$jsonSchema keyword 'properties' must be an object")
    const props = Object.entries(arg).map(([name, sub]) => [name, compileJsonSchema(sub)] as const)
    return (v) => {
      if (!isPlainObject(v)) return []
      const failed = props.flatMap(([propertyName, check]) => {
        if (v[propertyName] === undefined) return []
        const details = check(v[propertyName])
        return details.length ? [{ propertyName, details }] : []
      })
      return failed.length ? [{ operatorName: 'properties', propertiesNotSatisfied: failed }] : []
    }
  },
  additionalProperties: (arg, schema) => {
    const declared = new Set(isPlainObject(schema.properties) ? Object.keys(schema.properties) : [])
    const patterns = isPlainObject(schema.patternProperties) ? Object.keys(schema.patternProperties).map((p) => new RegExp(p, 'u')) : []
    const extra = (v: Document) => Object.keys(v).filter((k) => !declared.has(k) && !patterns.some((re) => re.test(k)))
    if (typeof arg === 'boolean') {
      if (arg) return undefined
      return (v) => {
        const names = isPlainObject(v) ? extra(v) : []
        return names.length ? [rule('additionalProperties', false, { additionalProperties: names })] : []
      }
    }
    const check = compileJsonSchema(arg)
    return (v) => {
      if (!isPlainObject(v)) return []
      for (const name of extra(v)) {
        const details = check(v[name])
        if (details.length) {
          return [{ operatorName: 'additionalProperties', reason: 'at least one additional property did not match the subschema', failingProperty: name, details }]
        }
      }
      return []
    }
  },
  patternProperties: (arg) => {
    if (!isPlainObject(arg)) throw parseError("$jsonSchema keyword 'patternProperties' must be an object")
    const rules = Object.entries(arg).map(([p, sub]) => [new RegExp(p, 'u'), compileJsonSchema(sub)] as const)
    return (v) => {
      if (!isPlainObject(v)) return []
      for (const [re, check] of rules) {
        for (const name of Object.keys(v).filter((k) => re.test(k))) {
          const details = check(v[name])
          if (details.length) return [{ operatorName: 'patternProperties', details: [{ propertyName: name, regexMatched: re.source, details }] }]
        }
      }
      return []
    }
  },
  items: (arg) => {
    const checks = Array.isArray(arg) ? arg.map((sub) => compileJsonSchema(sub)) : [compileJsonSchema(arg)]
    return (v) => {
      if (!Array.isArray(v)) return []
      for (let i = 0; i < v.length; i++) {
        const check = Array.isArray(arg) ? checks[i] : checks[0]
        if (!check) break
        const details = check(v[i])
        if (details.length) return [{ operatorName: 'items', reason: 'At least one item did not match the sub-schema', itemIndex: i, details }]
      }
      return []
    }
  },
  additionalItems: () => undefined,
  uniqueItems: (arg) => {
    if (arg !== true) return undefined
    return (v) => {
      if (!Array.isArray(v)) return []
      const seen = new Set<string>()
      for (const item of v) {
        const key = canonicalKey(item)
        if (seen.has(key)) return [rule('uniqueItems', true, { reason: 'found a duplicate item', consideredValue: v, duplicatedValue: item })]
        seen.add(key)
      }
      return []
    }
  },
  allOf: (arg) => {
    const subs = subSchemas(arg, 'allOf')
    return (v) => {
      const failed = subs.flatMap((check, index) => {
        const details = check(v)
        return details.length ? [{ index, details }] : []
      })
      return failed.length ? [{ operatorName: 'allOf', schemasNotSatisfied: failed }] : []
    }
  },
  anyOf: (arg) => {
    const subs = subSchemas(arg, 'anyOf')
    return (v) => (subs.some((check) => check(v).length === 0) ? [] : [{ operatorName: 'anyOf', schemasNotSatisfied: subs.map((check, index) => ({ index, details: check(v) })) }])
  },
  oneOf: (arg) => {
    const subs = subSchemas(arg, 'oneOf')
    return (v) => {
      const passing = subs.filter((check) => check(v).length === 0).length
      if (passing === 1) return []
      return [{ operatorName: 'oneOf', reason: passing === 0 ? 'no subschema matched' : 'more than one subschema matched' }]
    }
  },
  not: (arg) => {
    const sub = compileJsonSchema(arg)
    return (v) => (sub(v).length === 0 ? [rule('not', arg, { reason: 'child expression matched' })] : [])
  },
}
