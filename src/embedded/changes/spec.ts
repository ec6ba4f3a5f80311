/**
 * The `$changeStream` stage of an aggregate command: its options, checked as MongoDB 7.0 checks them
 * (IDL parsing first, then `assertIsLegalSpecification`), and the scope the stream watches.
 */
import { Timestamp, type Document } from 'bson'
import { isPlainObject } from '../bson-values.js'
import {
  badValue,
  invalidNamespace,
  invalidOptions,
  invalidResumeToken,
  locationError,
  typeMismatch,
} from './errors.js'
import { MongoCommandError } from '../types.js'
import { decodeToken, type ResumePoint } from './tokens.js'

export type StreamScope =
  | { readonly kind: 'collection'; readonly db: string; readonly coll: string }
  | { readonly kind: 'database'; readonly db: string }
  | { readonly kind: 'cluster' }

export const FullDocumentMode = ['default', 'updateLookup', 'whenAvailable', 'required'] as const
export type FullDocumentMode = (typeof FullDocumentMode)[number]
export const BeforeChangeMode = ['off', 'whenAvailable', 'required'] as const
export type BeforeChangeMode = (typeof BeforeChangeMode)[number]

export type StartPoint =
  | { readonly kind: 'now' }
  | { readonly kind: 'resumeAfter'; readonly point: ResumePoint }
  | { readonly kind: 'startAfter'; readonly point: ResumePoint }
  | { readonly kind: 'startAtOperationTime'; readonly ts: Timestamp }

export interface ChangeStreamSpec {
  readonly scope: StreamScope
  readonly fullDocument: FullDocumentMode
  readonly fullDocumentBeforeChange: BeforeChangeMode
  readonly start: StartPoint
  /** Reports create, createIndexes, dropIndexes and modify events, collectionUUID and disambiguatedPaths. */
  readonly showExpandedEvents: boolean
  /** The cursor's namespace as the server reports it (`db.coll`, or `db.$cmd.aggregate`). */
  readonly cursorNs: string
}

const KNOWN_FIELDS = new Set([
  'resumeAfter',
  'startAfter',
  'startAtOperationTime',
  'fullDocument',
  'fullDocumentBeforeChange',
  'allChangesForCluster',
  'showExpandedEvents',
  'showMigrationEvents',
  'showSystemEvents',
  'showRawUpdateDescription',
  'allowToRunOnConfigDB',
  'allowToRunOnSystemNS',
  '$_generateV2ResumeTokens',
])

/** Options the server knows but does not implement: refused when set to true. */
const NOT_IMPLEMENTED = ['showSystemEvents', 'showRawUpdateDescription', 'allowToRunOnSystemNS', '$_generateV2ResumeTokens']

/** BSON type names as the server's messages spell them. */
function bsonTypeName(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  switch (typeof v) {
    case 'string':
      return 'string'
    case 'boolean':
      return 'bool'
    case 'number':
      return Number.isInteger(v) ? 'int' : 'double'
  }
  if (v instanceof Date) return 'date'
  if (v instanceof RegExp) return 'regex'
  const named = (v as { _bsontype?: string })._bsontype
  const names: Record<string, string> = {
    Int32: 'int',
    Double: 'double',
    Long: 'long',
    Decimal128: 'decimal',
    ObjectId: 'objectId',
    Timestamp: 'timestamp',
    Binary: 'binData',
  }
  return (named && names[named]) ?? 'object'
}

const wrongType = (field: string, value: unknown, expected: string) =>
  typeMismatch(
    `BSON field '$changeStream.${field}' is the wrong type '${bsonTypeName(value)}', expected type '${expected}'`,
  )

function enumOption<T extends string>(spec: Document, field: string, values: readonly T[], fallback: T): T {
  const value: unknown = spec[field]
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'string') throw wrongType(field, value, 'string')
  if (!(values as readonly string[]).includes(value)) {
    throw badValue(`Enumeration value '${value}' for field '$changeStream.${field}' is not a valid value.`)
  }
  return value as T
}

function boolOption(spec: Document, field: string): boolean {
  const value: unknown = spec[field]
  if (value === undefined || value === null) return false
  if (typeof value === 'boolean') return value
  if (bsonTypeName(value) === 'object' || typeof value === 'string') throw wrongType(field, value, 'bool')
  return Number(value.valueOf()) !== 0
}

function tokenOption(spec: Document, field: string): ResumePoint | undefined {
  const value: unknown = spec[field]
  if (value === undefined || value === null) return undefined
  if (!isPlainObject(value)) throw wrongType(field, value, 'object')
  return decodeToken(value)
}

const isOne = (v: unknown) => Number((v as { valueOf(): unknown } | null)?.valueOf()) === 1 && typeof v !== 'string'

/** Reads `cmd.pipeline[0].$changeStream` of an aggregate on database `db`. */
export function parseChangeStreamSpec(cmd: Document, db: string): ChangeStreamSpec {
  const stage: unknown = (cmd.pipeline as Document[])[0].$changeStream
  if (!isPlainObject(stage)) throw locationError(50808, '$changeStream stage expects a document as argument')
  for (const field of Object.keys(stage)) {
    if (!KNOWN_FIELDS.has(field)) {
      throw locationError(40415, `BSON field '$changeStream.${field}' is an unknown field.`)
    }
  }
  for (const field of NOT_IMPLEMENTED) {
    if (boolOption(stage, field)) {
      throw new MongoCommandError(115, 'CommandNotSupported', `The embedded server does not implement the '${field}' option of $changeStream; run MongoDB to use it.`)
    }
  }
  const fullDocument = enumOption(stage, 'fullDocument', FullDocumentMode, 'default')
  const fullDocumentBeforeChange = enumOption(stage, 'fullDocumentBeforeChange', BeforeChangeMode, 'off')
  const allChangesForCluster = boolOption(stage, 'allChangesForCluster')
  const showExpandedEvents = boolOption(stage, 'showExpandedEvents')
  const allowToRunOnConfigDB = boolOption(stage, 'allowToRunOnConfigDB')
  const resumeAfter = tokenOption(stage, 'resumeAfter')
  const startAfter = tokenOption(stage, 'startAfter')
  const atTime: unknown = stage.startAtOperationTime
  if (atTime !== undefined && atTime !== null && !(atTime instanceof Timestamp)) {
    throw wrongType('startAtOperationTime', atTime, 'timestamp')
  }

  const collectionless = isOne(cmd.aggregate)
  const coll = typeof cmd.aggregate === 'string' ? cmd.aggregate : undefined
  const nsText = collectionless ? `${db}.$cmd.aggregate` : `${db}.${coll ?? ''}`
  if (allChangesForCluster && !(db === 'admin' && collectionless)) {
    throw invalidOptions(
      "A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, " +
        `and with no collection name; found ${nsText}`,
    )
  }
  const internalDb = db === 'local' || (db === 'config' && !allowToRunOnConfigDB)
  if (db === 'admin' ? !allChangesForCluster : internalDb) {
    throw invalidNamespace(`$changeStream may not be opened on the internal ${db} database`)
  }
  if (coll?.startsWith('system.')) {
    throw invalidNamespace(`$changeStream may not be opened on the internal ${nsText} collection`)
  }
  if (resumeAfter && startAfter) {
    throw locationError(50865, "Do not specify both 'resumeAfter' and 'startAfter' in a $changeStream stage")
  }
  if (atTime && (resumeAfter || startAfter)) {
    throw locationError(40674, 'Only one type of resume option is allowed, but multiple were found')
  }
  if (resumeAfter?.fromInvalidate) {
    throw invalidResumeToken(
      "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification",
    )
  }

  const scope: StreamScope = allChangesForCluster
    ? { kind: 'cluster' }
    : coll === undefined
      ? { kind: 'database', db }
      : { kind: 'collection', db, coll }
  const start: StartPoint = resumeAfter
    ? { kind: 'resumeAfter', point: resumeAfter }
    : startAfter
      ? { kind: 'startAfter', point: startAfter }
      : atTime instanceof Timestamp
        ? { kind: 'startAtOperationTime', ts: atTime }
        : { kind: 'now' }
  return { scope, fullDocument, fullDocumentBeforeChange, start, showExpandedEvents, cursorNs: nsText }
}
