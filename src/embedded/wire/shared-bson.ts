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

/**
 * The bytes `bson` writes for a run of elements (`run` holds them in their order; it has no prototype, so any key,
 * `__proto__` too, is an own property). One serialization per run of elements without shared documents.
 */
function elementsBytes(run: Document): Uint8Array {
  const doc = BSON.serialize(run, REPLY_SERIALIZE)
  return doc.subarray(4, doc.length - 1)
}

/** Element names cursors' replies repeat (`cursor`, `nextBatch`, array indexes) are encoded once. */
const NAME_CACHE_LIMIT = 4096
const names = { [TYPE_DOCUMENT]: new Map<string, Uint8Array>(), [TYPE_ARRAY]: new Map<string, Uint8Array>() }

function nameBytes(type: typeof TYPE_DOCUMENT | typeof TYPE_ARRAY, key: string): Uint8Array {
  const cache = names[type]
  const cached = cache.get(key)
  if (cached) return cached
  if (key.includes('\0')) throw new BSONError(`key ${key} must not contain null bytes`)
  const name = Buffer.from(key, 'utf8')
  const out = Buffer.allocUnsafe(name.length + 2)
  out[0] = type
  name.copy(out, 1)
  out[name.length + 1] = 0
  if (cache.size < NAME_CACHE_LIMIT && key.length <= 32) cache.set(key, out)
  return out
}

/**
 * Appends one document's elements. Shared documents are copied in, containers holding one are walked, and every run
 * of other elements between them is serialized in one go; arrays follow BSON's rule that an undefined element
 * becomes null.
 */
function appendDocument(parts: Parts, doc: Document | unknown[]): void {
  const size = Buffer.allocUnsafe(4)
  push(parts, size)
  const start = parts.length
  const inArray = Array.isArray(doc)
  const keys = inArray ? undefined : Object.keys(doc)
  const count = keys ? keys.length : (doc as unknown[]).length
  let run: Document | undefined
  for (let i = 0; i < count; i++) {
    const key = keys ? keys[i] : String(i)
    const value: unknown = keys ? (doc as Document)[key] : (doc as unknown[])[i]
    const bytes = value !== null && typeof value === 'object' ? sharedBytesOf(value) : undefined
    const nested = !bytes && (Array.isArray(value) || isPlainObject(value)) && holdsShared(value)
    if (!bytes && !nested) {
      run ??= Object.create(null) as Document
      run[key] = inArray && value === undefined ? null : value
      continue
    }
    if (run) {
      push(parts, elementsBytes(run))
      run = undefined
    }
    if (bytes) {
      push(parts, nameBytes(TYPE_DOCUMENT, key))
      push(parts, bytes)
    } else {
      push(parts, nameBytes(Array.isArray(value) ? TYPE_ARRAY : TYPE_DOCUMENT, key))
      appendDocument(parts, value as Document | unknown[])
    }
  }
  if (run) push(parts, elementsBytes(run))
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
