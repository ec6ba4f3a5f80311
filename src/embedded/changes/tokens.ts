/**
 * Resume tokens: `{ _data: '<hex>' }`, opaque to clients, totally ordered by plain string comparison.
 *
 * Layout (upper-case hex, fixed width, 38 characters):
 *   82 TTTTTTTT IIIIIIII   cluster time, as MongoDB's KeyString encodes a Timestamp (type byte 0x82, then t and i)
 *   01                     token format version
 *   KK                     00 = high-water mark, 80 = event (a high-water mark sorts before events of its time)
 *   SSSSSSSSSSSSSS         oplog position (seq) of the event, or of the last entry a high-water mark covers
 *   FF                     01 for the invalidate that follows an event, so it sorts right after that event
 *
 * A high-water mark at time T means "every event before T has been seen": resuming from it returns events with
 * a cluster time >= T. The marks this module builds use one tick past the last entry read, so they sort after
 * every event already committed and before any event committed later.
 */
import { Binary, Timestamp, type Document } from 'bson'
import { failedToParse, locationError } from './errors.js'

export const TOKEN_VERSION = 1

export interface ResumePoint {
  readonly ts: Timestamp
  readonly kind: 'event' | 'highWaterMark'
  readonly seq: number
  readonly fromInvalidate: boolean
}

const TOKEN_LENGTH = 38
const HEX = /^[0-9A-Fa-f]*$/

const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0')

/** The cluster time one tick after `ts`. */
export function nextTick(ts: Timestamp): Timestamp {
  return ts.i >= 0xffffffff ? new Timestamp({ t: ts.t + 1, i: 0 }) : new Timestamp({ t: ts.t, i: ts.i + 1 })
}

export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a.t - b.t || a.i - b.i
}

export function encodeToken(point: ResumePoint): string {
  return (
    `82${hex(point.ts.t, 8)}${hex(point.ts.i, 8)}` +
    hex(TOKEN_VERSION, 2) +
    (point.kind === 'event' ? '80' : '00') +
    hex(point.seq, 14) +
    (point.fromInvalidate ? '01' : '00')
  )
}

export const tokenDocument = (point: ResumePoint): Document => ({ _data: encodeToken(point) })

export function eventPoint(ts: Timestamp, seq: number, fromInvalidate = false): ResumePoint {
  return { ts, kind: 'event', seq, fromInvalidate }
}

/** A high-water mark covering every entry up to `seq`, whose own cluster time was `ts`. */
export function highWaterMarkAfter(ts: Timestamp, seq: number): ResumePoint {
  return { ts: nextTick(ts), kind: 'highWaterMark', seq, fromInvalidate: false }
}

/** A high-water mark at exactly `ts`: events at or after `ts` are still to come. */
export function highWaterMarkAt(ts: Timestamp, seq: number): ResumePoint {
  return { ts, kind: 'highWaterMark', seq, fromInvalidate: false }
}

/** Parses a client's `{ _data }` document, raising MongoDB's errors for malformed tokens. */
export function decodeToken(token: unknown): ResumePoint {
  const doc = (typeof token === 'object' && token !== null ? token : {}) as Document
  const data: unknown = doc._data
  if (typeof data !== 'string') {
    throw locationError(
      40647,
      `Bad resume token: _data of missing or of wrong type. Expected string, got ${describe(token)}`,
    )
  }
  if (doc._typeBits !== undefined && !(doc._typeBits instanceof Binary)) {
    throw locationError(40648, `Bad resume token: _typeBits of wrong type ${describe(token)}`)
  }
  if (!HEX.test(data) || data.length % 2 !== 0) throw failedToParse('resume token string was not a valid hex string')
  if (data.length === 0) throw locationError(40649, 'invalid empty resume token')
  const upper = data.toUpperCase()
  if (upper.length !== TOKEN_LENGTH || !upper.startsWith('82')) {
    throw failedToParse(`resume token is not one this server issued: ${data}`)
  }
  const version = parseInt(upper.slice(18, 20), 16)
  if (version !== TOKEN_VERSION) throw locationError(50795, `Invalid Resume Token: unsupported version ${version}`)
  const kind = upper.slice(20, 22)
  if (kind !== '00' && kind !== '80') throw locationError(51057, `Token type ${parseInt(kind, 16)} not recognized`)
  const flag = upper.slice(36, 38)
  if (flag !== '00' && flag !== '01') throw locationError(50870, 'Resume Token fromInvalidate is not a boolean.')
  const seq = parseInt(upper.slice(22, 36), 16)
  if (seq > Number.MAX_SAFE_INTEGER) throw failedToParse('resume token position out of range')
  const point: ResumePoint = {
    ts: new Timestamp({ t: parseInt(upper.slice(2, 10), 16), i: parseInt(upper.slice(10, 18), 16) }),
    kind: kind === '80' ? 'event' : 'highWaterMark',
    seq,
    fromInvalidate: flag === '01',
  }
  if (point.kind === 'highWaterMark' && point.fromInvalidate) {
    throw locationError(6189504, 'Invalid high water mark token')
  }
  return point
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
