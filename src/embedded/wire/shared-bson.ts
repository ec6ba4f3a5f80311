/**
 * BSON for replies that carry documents many cursors return (change events): each such document is serialized
 * once, and every reply that holds it copies its bytes in instead of serializing it again.
 *
 * A reply encoded here is byte for byte what `BSON.serialize(reply, REPLY_SERIALIZE)` gives: the rest of the reply
 * goes through `bson` one top-level element at a time, and a shared document's bytes are what `bson` writes
 * for it nested (same options, and BSON writes a nested document exactly as a top-level one).
 */
import { BSON, BSONError, type Document } from 'bson'

export const REPLY_SERIALIZE = { checkKeys: false, ignoreUndefined: true } as const

const TYPE_DOCUMENT = 0x03
const TYPE_ARRAY = 0x04

/**
 * A shared document's bytes, kept on the document itself (a symbol, not enumerable: no serializer or copy sees it).
 * Not a process-wide WeakMap: the oplog keeps up to its limit of events alive, and a WeakMap with that many live
 * keys makes every insert, and every garbage collection, pay for all of them.
 */
const SHARED_BYTES: unique symbol = Symbol('changegate.embedded.sharedBytes')

const sharedBytesOf = (value: object): Uint8Array | undefined => (value as { [SHARED_BYTES]?: Uint8Array })[SHARED_BYTES]

/** Serializes `doc` once for every reply that will carry it; `doc` must not change afterwards. */
export function shareEncoding(doc: Document): Uint8Array {
  let bytes = sharedBytesOf(doc)
  if (!bytes) {
    bytes = BSON.serialize(doc, REPLY_SERIALIZE)
    Object.defineProperty(doc, SHARED_BYTES, { value: bytes })
  }
  return bytes
}

const isPlainObject = (value: unknown): value is Document => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const proto: unknown = Object.getPrototypeOf(value)
  const { toBSON, _bsontype } = value as { toBSON?: unknown; _bsontype?: unknown }
  return (proto === Object.prototype || proto === null) && typeof toBSON !== 'function' && _bsontype == null
}

/** True when `value` holds a shared document: directly, as an array element or inside plain objects. */
function holdsShared(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false
  if (sharedBytesOf(value)) return true
  if (Array.isArray(value)) return value.some((item) => item !== null && typeof item === 'object' && sharedBytesOf(item) !== undefined)
  if (!isPlainObject(value)) return false
  for (const key of Object.keys(value)) if (holdsShared(value[key])) return true
  return false
}

/** Pieces of one BSON document body and their total length. */
interface Parts {
  readonly chunks: Uint8Array[]
  length: number
}

const push = (parts: Parts, chunk: Uint8Array) => {
  parts.chunks.push(chunk)
  parts.length += chunk.length
}

/** The bytes `bson` writes for one element `key: value` of a document (nothing for an ignored undefined). */
function elementBytes(key: string, value: unknown): Uint8Array {
  const doc = BSON.serialize({ [key]: value }, REPLY_SERIALIZE)
  return doc.subarray(4, doc.length - 1)
}

function nameBytes(type: number, key: string): Uint8Array {
  if (key.includes('\0')) throw new BSONError(`key ${key} must not contain null bytes`)
  const name = Buffer.from(key, 'utf8')
  const out = Buffer.allocUnsafe(name.length + 2)
  out[0] = type
  name.copy(out, 1)
  out[name.length + 1] = 0
  return out
}

/** Appends one element; arrays are written with BSON's rule that an undefined element becomes null. */
function appendElement(parts: Parts, key: string, value: unknown, inArray: boolean): void {
  const bytes = value !== null && typeof value === 'object' ? sharedBytesOf(value) : undefined
  if (bytes) {
    push(parts, nameBytes(TYPE_DOCUMENT, key))
    push(parts, bytes)
  } else if ((Array.isArray(value) || isPlainObject(value)) && holdsShared(value)) {
    push(parts, nameBytes(Array.isArray(value) ? TYPE_ARRAY : TYPE_DOCUMENT, key))
    appendDocument(parts, value as Document | unknown[])
  } else {
    push(parts, elementBytes(key, inArray && value === undefined ? null : value))
  }
}

function appendDocument(parts: Parts, doc: Document | unknown[]): void {
  const size = Buffer.allocUnsafe(4)
  push(parts, size)
  const start = parts.length
  if (Array.isArray(doc)) {
    for (let i = 0; i < doc.length; i++) appendElement(parts, String(i), doc[i], true)
  } else {
    for (const key of Object.keys(doc)) appendElement(parts, key, doc[key], false)
  }
  push(parts, TERMINATOR)
  size.writeInt32LE(parts.length - start + 4, 0)
}

const TERMINATOR = new Uint8Array([0])

/** Serializes a reply, copying in the bytes of every shared document it holds. */
export function serializeReply(reply: Document): Uint8Array {
  if (!isPlainObject(reply) || !holdsShared(reply)) return BSON.serialize(reply, REPLY_SERIALIZE)
  const parts: Parts = { chunks: [], length: 0 }
  appendDocument(parts, reply)
  return Buffer.concat(parts.chunks, parts.length)
}
