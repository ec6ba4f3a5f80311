import { createHmac, createSecretKey, hash, timingSafeEqual } from 'node:crypto'
import { invalidCursor } from '../errors.js'
import type { ClusterTime, Position } from './position.js'

/**
 * Cursors: opaque, tamper-evident strings bound to a tenant (and usually a collection) that carry a change
 * history position.
 *
 * Format: `base64url(body) "." base64url(HMAC-SHA256(secret, base64url(body)))`, where body is compact JSON
 * `{"v":1,"n":tenant,"c":collection|null,"p":position}` and position is `["k",token,t,i]`,
 * `["k",token]` (token of unknown time) or `["c",t,i]` (cluster time). Every node of a cluster must share the
 * secret.
 */
export interface CursorPayload {
  readonly tenant: string
  /** null = valid for every collection (`changeCursor`, a page's `cursor`). */
  readonly collection: string | null
  readonly position: Position
}

export interface CursorCodec {
  encode(payload: CursorPayload): string
  /**
   * Verifies and decodes a client's cursor for a subscription of `expect.tenant` on `expect.collection`. Throws
   * INVALID_CURSOR when it is malformed, forged, of an unknown version, another tenant's, or bound to the other
   * collection.
   */
  decode(cursor: string, expect: { tenant: string; collection: string }): CursorPayload
}

export const CURSOR_VERSION = 1
export const MAX_CURSOR_LENGTH = 2048
const MAX_TENANT_LENGTH = 128
const MAX_TOKEN_LENGTH = 512
const MAC_LENGTH = 43 // base64url of 32 bytes, unpadded
const BASE64URL = /^[A-Za-z0-9_-]+$/
const TOKEN = /^[0-9A-F]+$/
const U32 = 0xffffffff
const SHA256_BLOCK = 64
const SHA256_LENGTH = 32

export function createCursorCodec(secret: string): CursorCodec {
  if (typeof secret !== 'string' || secret.length === 0) throw new TypeError('cursor secret must be a non-empty string')
  const mac = macOf(Buffer.from(secret, 'utf8'))

  return {
    encode(payload) {
      const { tenant, collection, position } = payload
      if (typeof tenant !== 'string' || tenant.length === 0 || tenant.length > MAX_TENANT_LENGTH) {
        throw new TypeError('cursor tenant must be a non-empty string of at most 128 characters')
      }
      // the template would write `"c":undefined` where JSON.stringify drops the key: neither decodes
      if (collection !== null && typeof collection !== 'string') {
        throw new TypeError('cursor collection must be a string or null')
      }
      // Written by hand, not JSON.stringify of an object (a third cheaper, once per delivered event): the same
      // bytes, as the parts are JSON.stringify'd strings or null and toWire's JSON.
      const json = `{"v":${CURSOR_VERSION},"n":${JSON.stringify(tenant)},"c":${JSON.stringify(collection)},"p":${toWire(position)}}`
      const body = Buffer.from(json, 'utf8').toString('base64url')
      const cursor = `${body}.${mac(body)}`
      if (cursor.length > MAX_CURSOR_LENGTH) throw new TypeError('cursor would exceed its maximum length')
      return cursor
    },

    decode(cursor, expect) {
      if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR_LENGTH) throw invalidCursor()
      const dot = cursor.indexOf('.')
      if (dot <= 0 || dot !== cursor.lastIndexOf('.')) throw invalidCursor()
      const body = cursor.slice(0, dot)
      const signature = cursor.slice(dot + 1)
      if (!BASE64URL.test(body) || signature.length !== MAC_LENGTH || !BASE64URL.test(signature)) throw invalidCursor()
      // bytes, not text, compared: a signature differing only in the last character's unused bits stays accepted
      const given = Buffer.from(signature, 'base64url')
      const expected = Buffer.from(mac(body), 'base64url')
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalidCursor()

      const payload = parseBody(body)
      if (payload.tenant !== expect.tenant) throw invalidCursor()
      if (payload.collection !== null && payload.collection !== expect.collection) throw invalidCursor()
      return payload
    },
  }
}

/**
 * HMAC-SHA256 of a body, base64url. HMAC by hand with the one-shot `hash` costs half of a `createHmac` per call:
 * `H((K ^ opad) || H((K ^ ipad) || body))`, K the key zero-padded to the block. `hash` encodes a string as UTF-8,
 * so the inner step may hash `ipad + body` as one string only when every ipad byte is below 0x80: when every key
 * byte is (XOR with 0x36 or 0x5c never sets bit 7) and the key fits the block (a longer one is hashed first,
 * giving arbitrary bytes). Then the string's UTF-8 is the ipad bytes followed by the body's UTF-8, as `createHmac`
 * hashes it. Any other key keeps `createHmac`.
 */
function macOf(key: Buffer): (body: string) => string {
  if (key.length > SHA256_BLOCK || key.some((byte) => byte >= 0x80)) {
    const secretKey = createSecretKey(key)
    return (body) => createHmac('sha256', secretKey).update(body).digest('base64url')
  }
  const block = Buffer.alloc(SHA256_BLOCK)
  key.copy(block)
  const ipad = Buffer.from(block.map((byte) => byte ^ 0x36)).toString('latin1')
  // The outer message, its opad part written once: each call writes the inner digest after it. One buffer per
  // codec is safe as a call runs synchronously, and saves an allocation per call. The inner digest is binary, hence
  // returned as 'binary' (latin1: one character per byte) and written back as latin1, never as UTF-8.
  const outer = Buffer.alloc(SHA256_BLOCK + SHA256_LENGTH)
  outer.set(block.map((byte) => byte ^ 0x5c))
  return (body) => {
    outer.write(hash('sha256', ipad + body, 'binary'), SHA256_BLOCK, SHA256_LENGTH, 'latin1')
    return hash('sha256', outer, 'base64url')
  }
}

/**
 * The position's wire array as JSON text, `["k",token,t,i]`, `["k",token]` or `["c",t,i]`, written by hand: the
 * token is checked upper-case hex and the numbers unsigned 32-bit integers, so nothing needs escaping and the text
 * is the array's JSON.stringify.
 */
function toWire(position: Position): string {
  if (position.kind === 'time') return `["c",${checkU32(position.time.t)},${checkU32(position.time.i)}]`
  const token = position.token.toUpperCase()
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !TOKEN.test(token)) {
    throw new TypeError('cursor position token must be hex of at most 512 characters')
  }
  return position.time
    ? `["k","${token}",${checkU32(position.time.t)},${checkU32(position.time.i)}]`
    : `["k","${token}"]`
}

function checkU32(n: number): number {
  if (!isU32(n)) throw new TypeError('cluster time parts must be unsigned 32-bit integers')
  return n
}

const isU32 = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= U32

/** Parses a body whose MAC verified. Anything unexpected (e.g. a version this node does not know) is invalid. */
function parseBody(body: string): CursorPayload {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    throw invalidCursor()
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidCursor()
  const { v, n, c, p } = value as Record<string, unknown>
  if (v !== CURSOR_VERSION) throw invalidCursor()
  if (typeof n !== 'string' || n.length === 0 || n.length > MAX_TENANT_LENGTH) throw invalidCursor()
  if (c !== null && (typeof c !== 'string' || c.length === 0 || c.length > 120)) throw invalidCursor()
  return { tenant: n, collection: c, position: fromWire(p) }
}

function fromWire(p: unknown): Position {
  if (!Array.isArray(p)) throw invalidCursor()
  if (p[0] === 'c' && p.length === 3 && isU32(p[1]) && isU32(p[2])) {
    return { kind: 'time', time: { t: p[1], i: p[2] } }
  }
  if (p[0] === 'k' && (p.length === 2 || p.length === 4)) {
    const token: unknown = p[1]
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH || !TOKEN.test(token)) {
      throw invalidCursor()
    }
    if (p.length === 2) return { kind: 'token', token, time: null }
    if (isU32(p[2]) && isU32(p[3])) {
      const time: ClusterTime = { t: p[2], i: p[3] }
      return { kind: 'token', token, time }
    }
  }
  throw invalidCursor()
}
