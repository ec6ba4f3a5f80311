/**
 * mingo, taught MongoDB's comparison of BSON values. Out of the box mingo compares ObjectId, Timestamp, Long
 * and Decimal128 by their `toString()` and refuses to compare a Long or Decimal128 with a number; these query
 * and expression operators replace its comparison operators with MongoDB's order (bson-compare.ts), including
 * numbers across Int32/Double/Long/Decimal128, `null` matching missing fields and type bracketing for ranges.
 */
import { Aggregator } from 'mingo/aggregator'
import { Context, evalExpr } from 'mingo/core'
import * as accumulatorOperators from 'mingo/operators/accumulator'
import * as expressionOperators from 'mingo/operators/expression'
import * as pipelineOperators from 'mingo/operators/pipeline'
import * as projectionOperators from 'mingo/operators/projection'
import * as queryOperators from 'mingo/operators/query'
import { Query } from 'mingo/query'
import type { Any, AnyObject, ArrayOrObject, Options } from 'mingo/types'
import { resolve } from 'mingo/util'
import { canonicalType, CanonicalType, compareBson, bsonEquals } from './bson-compare.js'
import { badValue } from './errors.js'

type Predicate = (lhs: unknown, rhs: unknown, depth: number) => boolean

const flatten = (values: unknown[], depth: number): unknown[] =>
  depth <= 0 ? values : values.flatMap((v) => (Array.isArray(v) ? flatten(v, depth - 1) : [v]))

function eq(lhs: unknown, rhs: unknown, depth: number): boolean {
  const same = (v: unknown) => bsonEquals(v, rhs) || (rhs === null && v === undefined)
  if (same(lhs)) return true
  if (!Array.isArray(lhs)) return false
  return lhs.some(same) || flatten(lhs, depth).some(same)
}

/** Range comparisons only match values of the same canonical type ("type bracketing"). */
const range =
  (accept: (order: number) => boolean): Predicate =>
  (lhs, rhs) => {
    if (rhs === null && (lhs === null || lhs === undefined)) return accept(0)
    const rhsType = canonicalType(rhs)
    const candidates = Array.isArray(lhs) ? (Array.isArray(rhs) ? [lhs, ...lhs] : lhs) : [lhs]
    return candidates.some((v) => canonicalType(v) === rhsType && accept(compareBson(v, rhs)))
  }

function isIn(lhs: unknown, rhs: unknown, depth: number): boolean {
  return (rhs as unknown[]).some((r) => {
    if (r instanceof RegExp) {
      const values = Array.isArray(lhs) ? lhs : [lhs]
      return values.some((v) => typeof v === 'string' && r.test(v))
    }
    return eq(lhs, r, depth)
  })
}

const bsontype = (v: unknown) =>
  typeof v === 'object' && v !== null ? (v as { _bsontype?: string })._bsontype : undefined

const fitsInt32 = (n: number) => Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff && !Object.is(n, -0)

/** `$type` aliases and numbers, for values in the embedded server's stored form (see bson-values.ts). */
const TYPE_TESTS: Record<string, (v: unknown) => boolean> = {
  double: (v) => (typeof v === 'number' && !fitsInt32(v)) || bsontype(v) === 'Double',
  string: (v) => typeof v === 'string',
  object: (v) => canonicalType(v) === CanonicalType.object,
  array: (v) => Array.isArray(v),
  binData: (v) => canonicalType(v) === CanonicalType.binary,
  undefined: () => false,
  objectId: (v) => canonicalType(v) === CanonicalType.objectId,
  bool: (v) => typeof v === 'boolean',
  date: (v) => v instanceof Date,
  null: (v) => v === null,
  regex: (v) => canonicalType(v) === CanonicalType.regex,
  javascript: (v) => canonicalType(v) === CanonicalType.code,
  javascriptWithScope: (v) => canonicalType(v) === CanonicalType.codeWithScope,
  int: (v) => (typeof v === 'number' && fitsInt32(v)) || bsontype(v) === 'Int32',
  timestamp: (v) => canonicalType(v) === CanonicalType.timestamp,
  long: (v) => bsontype(v) === 'Long',
  decimal: (v) => bsontype(v) === 'Decimal128',
  minKey: (v) => canonicalType(v) === CanonicalType.minKey,
  maxKey: (v) => canonicalType(v) === CanonicalType.maxKey,
  number: (v) => canonicalType(v) === CanonicalType.number,
}
const TYPE_NUMBERS: Record<number, string> = {
  1: 'double',
  2: 'string',
  3: 'object',
  4: 'array',
  5: 'binData',
  6: 'undefined',
  7: 'objectId',
  8: 'bool',
  9: 'date',
  10: 'null',
  11: 'regex',
  13: 'javascript',
  15: 'javascriptWithScope',
  16: 'int',
  17: 'timestamp',
  18: 'long',
  19: 'decimal',
  [-1]: 'minKey',
  127: 'maxKey',
}

function typeTest(spec: unknown): (v: unknown) => boolean {
  const name = typeof spec === 'number' ? TYPE_NUMBERS[spec] : String(spec)
  const test = name === undefined ? undefined : TYPE_TESTS[name]
  if (!test) throw badValue(`Unknown type name alias: ${String(spec)}`)
  return test
}

function hasType(lhs: unknown, rhs: unknown): boolean {
  const tests = (Array.isArray(rhs) ? rhs : [rhs]).map(typeTest)
  const matches = (v: unknown) => tests.some((t) => t(v))
  if (lhs === undefined) return false
  return matches(lhs) || (Array.isArray(lhs) && lhs.some(matches))
}

function queryOperator(predicate: Predicate, validate?: (value: unknown) => void) {
  return (selector: string, value: Any, _options: Options) => {
    validate?.(value)
    const depth = selector.split('.').length - 1
    return (obj: AnyObject) => predicate(resolve(obj as ArrayOrObject, selector, { unwrapArray: true }), value, depth)
  }
}

const needsArray = (name: string) => (value: unknown) => {
  if (!Array.isArray(value)) throw badValue(`${name} needs an array`)
}

const not =
  (p: Predicate): Predicate =>
  (l, r, d) =>
    !p(l, r, d)

function expressionOperator(name: string, outcome: (order: number) => unknown) {
  return (obj: AnyObject, expr: Any, options: Options) => {
    if (!Array.isArray(expr) || expr.length !== 2) {
      const given = Array.isArray(expr) ? expr.length : 1
      throw badValue(`Expression ${name} takes exactly 2 arguments. ${given} were passed in.`)
    }
    const [a, b] = evalExpr(obj, expr, options) as [unknown, unknown]
    return outcome(compareBson(a, b))
  }
}

// mingo merges contexts with the first one winning, so the whole operator set is assembled here.
const BSON_CONTEXT = Context.init({
  accumulator: accumulatorOperators,
  pipeline: pipelineOperators,
  projection: projectionOperators,
  query: {
    ...queryOperators,
    $eq: queryOperator(eq),
    $ne: queryOperator(not(eq)),
    $gt: queryOperator(range((o) => o > 0)),
    $gte: queryOperator(range((o) => o >= 0)),
    $lt: queryOperator(range((o) => o < 0)),
    $lte: queryOperator(range((o) => o <= 0)),
    $in: queryOperator(isIn, needsArray('$in')),
    $nin: queryOperator(not(isIn), needsArray('$nin')),
    $type: queryOperator(hasType, (v) => void (Array.isArray(v) ? v : [v]).forEach(typeTest)),
  },
  expression: {
    ...expressionOperators,
    $eq: expressionOperator('$eq', (o) => o === 0),
    $ne: expressionOperator('$ne', (o) => o !== 0),
    $gt: expressionOperator('$gt', (o) => o > 0),
    $gte: expressionOperator('$gte', (o) => o >= 0),
    $lt: expressionOperator('$lt', (o) => o < 0),
    $lte: expressionOperator('$lte', (o) => o <= 0),
    $cmp: expressionOperator('$cmp', (o) => o),
  },
})

const OPTIONS = { context: BSON_CONTEXT, scriptEnabled: false, useStrictMode: true } as const

/** A mingo query with MongoDB's comparisons. */
export const createBsonQuery = (criteria: AnyObject) => new Query(criteria, OPTIONS)

/** A mingo aggregation with MongoDB's comparisons. */
export const createBsonAggregator = (stages: AnyObject[]) => new Aggregator(stages, OPTIONS)
