import { ObjectId, type Document } from 'mongodb'

/**
 * Compiles the part of MongoDB's query language the filter compiler emits most — equalities, `$in`, ranges and
 * `$exists` on scalar fields, under `$and` / `$or` / `$nor` — into plain JavaScript tests that read only the fields
 * they compare. mingo (src/streams/filters/matcher.ts) stays the reference: a test answers `undefined` whenever the
 * document holds something it does not decide exactly (an array on the path, NaN, a BSON type it does not compare),
 * and the caller asks mingo instead. So a fast test never answers differently from the slow one; it only skips the
 * normalisation of the whole event and mingo's generic walk for the documents that need neither.
 */

/** true / false, or undefined: undecided, ask mingo. */
export type FastTest = (doc: Document) => boolean | undefined

/** The test of `query`, or undefined when the query uses an operator or value this compiler leaves to mingo. */
export function compileFastTest(query: Document): FastTest | undefined {
  if (query === null || typeof query !== 'object' || Array.isArray(query)) return undefined
  const tests: FastTest[] = []
  for (const key of Object.keys(query)) {
    const test = key.startsWith('$') ? compileLogical(key, query[key]) : compileField(key, query[key])
    if (!test) return undefined
    tests.push(test)
  }
  return all(tests)
}

function compileLogical(operator: string, operands: unknown): FastTest | undefined {
  if (!Array.isArray(operands) || operands.length === 0) return undefined
  const tests: FastTest[] = []
  for (const operand of operands) {
    const test = compileFastTest(operand as Document)
    if (!test) return undefined
    tests.push(test)
  }
  if (operator === '$and') return all(tests)
  if (operator === '$or') return any(tests)
  if (operator === '$nor') return not(any(tests))
  return undefined
}

/** AND in three values: false wins over undecided. */
const all = (tests: readonly FastTest[]): FastTest => settledBy(tests, false)

/** OR in three values: true wins over undecided. */
const any = (tests: readonly FastTest[]): FastTest => settledBy(tests, true)

/** The first test answering `decisive` settles it; else undecided if any test was, else the other answer. */
function settledBy(tests: readonly FastTest[], decisive: boolean): FastTest {
  if (tests.length === 1) return tests[0]
  return (doc) => {
    let undecided = false
    for (const test of tests) {
      const result = test(doc)
      if (result === decisive) return decisive
      if (result === undefined) undecided = true
    }
    return undecided ? undefined : !decisive
  }
}

const not =
  (test: FastTest): FastTest =>
  (doc) => {
    const result = test(doc)
    return result === undefined ? undefined : !result
  }

/** What a path reads in a document: a comparable value, or one of these markers. */
const MISSING = Symbol('missing')
/** An embedded document: unequal to (and not ordered with) every scalar. */
const EMBEDDED = Symbol('embedded document')
/** Something only mingo decides: an array on the path, NaN, a BSON type compared otherwise. */
const UNDECIDED = Symbol('undecided')

type Leaf = string | number | boolean | null | Date | ObjectIdLike | typeof MISSING | typeof EMBEDDED | typeof UNDECIDED
interface ObjectIdLike {
  readonly _bsontype: 'ObjectId'
  toHexString(): string
}

/** A query value this compiler compares: its type class and how to compare it. */
type Operand =
  | { readonly kind: 'null' }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'date'; readonly value: number }
  | { readonly kind: 'objectId'; readonly value: ObjectId }

const RANGE = new Set(['$gt', '$gte', '$lt', '$lte'])

function compileField(path: string, condition: unknown): FastTest | undefined {
  const segments = path.split('.')
  if (segments.some((s) => s === '' || s.startsWith('$'))) return undefined
  const read = reader(segments)
  if (!isOperatorObject(condition)) {
    const operand = operandOf(condition)
    return operand && ((doc) => decide(read(doc), (leaf) => equals(leaf, operand)))
  }
  const tests: FastTest[] = []
  for (const [operator, value] of Object.entries(condition)) {
    const test = compileOperator(read, operator, value)
    if (!test) return undefined
    tests.push(test)
  }
  return tests.length === 0 ? undefined : all(tests)
}

function compileOperator(read: (doc: Document) => Leaf, operator: string, value: unknown): FastTest | undefined {
  if (operator === '$exists') {
    if (typeof value !== 'boolean') return undefined
    return (doc) => {
      const leaf = read(doc)
      return leaf === UNDECIDED ? undefined : (leaf !== MISSING) === value
    }
  }
  if (operator === '$in' || operator === '$nin') {
    if (!Array.isArray(value)) return undefined
    const operands = value.map(operandOf)
    if (operands.some((o) => o === undefined)) return undefined
    const list = operands as Operand[]
    // Strings, numbers and booleans equal only their own kind, as a Set compares them (0 and -0 alike, as MongoDB).
    const primitives = list.every((o) => o.kind === 'string' || o.kind === 'number' || o.kind === 'boolean')
      ? new Set(list.map((o) => (o as { readonly value: unknown }).value))
      : undefined
    const member = primitives ? (leaf: Leaf) => primitives.has(leaf) : (leaf: Leaf) => list.some((operand) => equals(leaf, operand))
    return operator === '$in' ? (doc) => decide(read(doc), member) : (doc) => decide(read(doc), (leaf) => !member(leaf))
  }
  const operand = operandOf(value)
  if (!operand) return undefined
  if (operator === '$eq') return (doc) => decide(read(doc), (leaf) => equals(leaf, operand))
  if (operator === '$ne') return (doc) => decide(read(doc), (leaf) => !equals(leaf, operand))
  if (!RANGE.has(operator) || !(operand.kind === 'number' || operand.kind === 'string' || operand.kind === 'date')) return undefined
  const accept = RANGE_TESTS[operator]
  return (doc) => decide(read(doc), (leaf) => {
    const order = compareSameType(leaf, operand)
    return order !== undefined && accept(order)
  })
}

const RANGE_TESTS: Readonly<Record<string, (order: number) => boolean>> = {
  $gt: (order) => order > 0,
  $gte: (order) => order >= 0,
  $lt: (order) => order < 0,
  $lte: (order) => order <= 0,
}

const decide = (leaf: Leaf, test: (leaf: Leaf) => boolean): boolean | undefined => (leaf === UNDECIDED ? undefined : test(leaf))

/** Reads a dotted path through embedded documents only: anything else on the way is left to mingo. */
function reader(segments: readonly string[]): (doc: Document) => Leaf {
  return (doc) => {
    let value: unknown = doc
    for (const segment of segments) {
      if (value === undefined || value === null || typeof value !== 'object') return MISSING
      if (!isPlainObject(value)) return UNDECIDED
      value = Object.hasOwn(value, segment) ? (value as Document)[segment] : undefined
    }
    return leafOf(value)
  }
}

function leafOf(value: unknown): Leaf {
  switch (typeof value) {
    case 'undefined':
      return MISSING
    case 'string':
    case 'boolean':
      return value
    case 'number':
      return Number.isNaN(value) ? UNDECIDED : value
    case 'object': {
      if (value === null) return null
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? UNDECIDED : value
      if (isPlainObject(value)) return EMBEDDED
      const bsontype = (value as { _bsontype?: unknown })._bsontype
      if (bsontype === 'ObjectId') return value as ObjectIdLike
      const number = bsonNumber(bsontype, value)
      return number === undefined || Number.isNaN(number) ? UNDECIDED : number
    }
    default:
      return UNDECIDED
  }
}

/** A BSON number wrapper's value (Decimal128 at double precision); undefined for any other value. */
export function bsonNumber(bsontype: unknown, value: object): number | undefined {
  switch (bsontype) {
    case 'Int32':
    case 'Double':
      return (value as { valueOf(): number }).valueOf()
    case 'Long':
      return (value as { toNumber(): number }).toNumber()
    case 'Decimal128':
      return Number(String(value))
    default:
      return undefined
  }
}

function operandOf(value: unknown): Operand | undefined {
  if (value === null) return { kind: 'null' }
  switch (typeof value) {
    case 'string':
      return { kind: 'string', value }
    case 'boolean':
      return { kind: 'boolean', value }
    case 'number':
      return Number.isNaN(value) ? undefined : { kind: 'number', value }
    case 'object': {
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : { kind: 'date', value: value.getTime() }
      const bsontype = (value as { _bsontype?: unknown })._bsontype
      // The driver's class: its `equals` compares another build's ObjectId by value, without hex strings.
      if (bsontype === 'ObjectId') return { kind: 'objectId', value: ObjectId.createFromHexString((value as ObjectIdLike).toHexString()) }
      const number = bsonNumber(bsontype, value)
      return number === undefined || Number.isNaN(number) ? undefined : { kind: 'number', value: number }
    }
    default:
      return undefined
  }
}

/** MongoDB equality of a read value and a query value (`$eq: null` also matches a missing field). */
function equals(leaf: Leaf, operand: Operand): boolean {
  switch (operand.kind) {
    case 'null':
      return leaf === null || leaf === MISSING
    case 'string':
    case 'number':
    case 'boolean':
      return leaf === operand.value
    case 'date':
      return leaf instanceof Date && leaf.getTime() === operand.value
    case 'objectId':
      return isObjectId(leaf) && operand.value.equals(leaf as unknown as ObjectId)
  }
}

/** Order of a read value against a query value of the same type class; undefined across classes. */
function compareSameType(leaf: Leaf, operand: Operand): number | undefined {
  if (operand.kind === 'date') return leaf instanceof Date ? order(leaf.getTime(), operand.value) : undefined
  if (operand.kind === 'number') return typeof leaf === 'number' ? order(leaf, operand.value) : undefined
  if (operand.kind === 'string') return typeof leaf === 'string' ? order(leaf, operand.value) : undefined
  return undefined
}

/** Not a subtraction: Infinity - Infinity is NaN. */
const order = <T extends number | string>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0)

const isObjectId = (leaf: Leaf): leaf is ObjectIdLike =>
  typeof leaf === 'object' && leaf !== null && !(leaf instanceof Date) && leaf._bsontype === 'ObjectId'

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function isOperatorObject(value: unknown): value is Document {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !isPlainObject(value)) return false
  const keys = Object.keys(value)
  return keys.length > 0 && keys.every((k) => k.startsWith('$'))
}
