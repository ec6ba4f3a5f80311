import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ErrorCode, hasCode } from '../../src/errors.js'
import { createCursorCodec, type CursorPayload } from '../../src/mongo/cursor-codec.js'
import type { Position } from '../../src/mongo/position.js'

const SECRET = 'cursor-secret-0123456789abcdef'
const codec = createCursorCodec(SECRET)
const TOKEN = '8265E1F0A0000000012B042C0100296E5A1004AABBCCDD'
const tokenPosition: Position = { kind: 'token', token: TOKEN, time: { t: 1709305504, i: 1 } }
const timePosition: Position = { kind: 'time', time: { t: 0xffffffff, i: 0 } }
const payload = (overrides: Partial<CursorPayload> = {}): CursorPayload => ({
  tenant: 'tenant-a',
  collection: 'orders',
  position: tokenPosition,
  ...overrides,
})
const ORDERS = { tenant: 'tenant-a', collection: 'orders' } as const

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url')
/** A cursor signed with the real secret around an arbitrary body: only the body's validation can refuse it. */
const signed = (json: string, secret = SECRET) => {
  const body = b64(json)
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`
}

function invalid(decode: () => unknown) {
  try {
    decode()
  } catch (error) {
    expect(hasCode(error, ErrorCode.INVALID_CURSOR)).toBe(true)
    expect((error as Error).message).toBe('Invalid cursor')
    return
  }
  throw new Error('expected INVALID_CURSOR')
}

describe('cursor codec', () => {
  it.each<[string, CursorPayload]>([
    ['an event token', payload()],
    ['a token of unknown time', payload({ position: { kind: 'token', token: TOKEN, time: null } })],
    ['a cluster time', payload({ position: timePosition })],
    ['a users cursor', payload({ collection: 'users' })],
  ])('round-trips %s', (_name, p) => {
    const cursor = codec.encode(p)
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/)
    expect(codec.decode(cursor, { tenant: 'tenant-a', collection: p.collection ?? 'orders' })).toEqual(p)
  })

  it('is opaque: no tenant or token in clear text, and stable for one payload', () => {
    const cursor = codec.encode(payload())
    expect(cursor).not.toContain('tenant-a')
    expect(cursor).not.toContain(TOKEN)
    expect(codec.encode(payload())).toBe(cursor)
  })

  it('accepts a collection-free cursor for either collection', () => {
    const cursor = codec.encode(payload({ collection: null, position: timePosition }))
    expect(codec.decode(cursor, ORDERS).position).toEqual(timePosition)
    expect(codec.decode(cursor, { tenant: 'tenant-a', collection: 'users' }).collection).toBeNull()
  })

  it('accepts a cursor from another node sharing the secret', () => {
    expect(createCursorCodec(SECRET).decode(codec.encode(payload()), ORDERS)).toEqual(payload())
  })

  it('refuses another tenant’s cursor', () => {
    invalid(() => codec.decode(codec.encode(payload({ tenant: 'tenant-b' })), ORDERS))
  })

  it('refuses a collection-bound cursor on the other collection', () => {
    invalid(() => codec.decode(codec.encode(payload({ collection: 'users' })), ORDERS))
  })

  it('refuses a cursor signed with another secret', () => {
    invalid(() => createCursorCodec('another-secret-0123456789abcdef').decode(codec.encode(payload()), ORDERS))
  })

  it('refuses a tampered body or signature', () => {
    const cursor = codec.encode(payload())
    const [body, mac] = cursor.split('.')
    const forged = b64(JSON.stringify({ v: 1, n: 'tenant-a', c: 'orders', p: ['c', 1, 0] }))
    invalid(() => codec.decode(`${forged}.${mac}`, ORDERS))
    const flipped = mac.slice(0, 10) + (mac[10] === 'A' ? 'B' : 'A') + mac.slice(11)
    invalid(() => codec.decode(`${body}.${flipped}`, ORDERS))
    invalid(() => codec.decode(`${body.slice(1)}.${mac}`, ORDERS))
    // retargeting another tenant's cursor by editing its body breaks its MAC
    const [otherBody, otherMac] = codec.encode(payload({ tenant: 'tenant-b', position: timePosition })).split('.')
    const retargeted = { ...JSON.parse(Buffer.from(otherBody, 'base64url').toString()), n: 'tenant-a' }
    invalid(() => codec.decode(`${b64(JSON.stringify(retargeted))}.${otherMac}`, ORDERS))
  })

  it.each([
    ['empty', ''],
    ['no dot', 'abc'],
    ['two dots', 'a.b.c'],
    ['empty body', `.${'A'.repeat(43)}`],
    ['short signature', 'abc.def'],
    ['non-base64 body', `ab$c.${'A'.repeat(43)}`],
    ['padding', `abc=.${'A'.repeat(43)}`],
    ['too long', `${'A'.repeat(2100)}.${'A'.repeat(43)}`],
    ['a JWT', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'],
  ])('refuses a malformed cursor (%s)', (_name, cursor) => {
    invalid(() => codec.decode(cursor, ORDERS))
  })

  it('refuses a non-string cursor', () => {
    invalid(() => codec.decode(42 as unknown as string, ORDERS))
  })

  it.each([
    ['unknown version', { v: 2, n: 'tenant-a', c: 'orders', p: ['c', 1, 0] }],
    ['no version', { n: 'tenant-a', c: 'orders', p: ['c', 1, 0] }],
    ['unknown collection', { v: 1, n: 'tenant-a', c: 'payments', p: ['c', 1, 0] }],
    ['tenant not a string', { v: 1, n: ['tenant-a'], c: 'orders', p: ['c', 1, 0] }],
    ['unknown position kind', { v: 1, n: 'tenant-a', c: 'orders', p: ['x', 1, 0] }],
    ['negative time', { v: 1, n: 'tenant-a', c: 'orders', p: ['c', -1, 0] }],
    ['fractional time', { v: 1, n: 'tenant-a', c: 'orders', p: ['c', 1.5, 0] }],
    ['time beyond 32 bits', { v: 1, n: 'tenant-a', c: 'orders', p: ['c', 2 ** 32, 0] }],
    ['non-hex token', { v: 1, n: 'tenant-a', c: 'orders', p: ['k', '{"$gt":""}'] }],
    ['lower-case token', { v: 1, n: 'tenant-a', c: 'orders', p: ['k', 'abcd'] }],
    ['huge token', { v: 1, n: 'tenant-a', c: 'orders', p: ['k', 'A'.repeat(514)] }],
    ['token with partial time', { v: 1, n: 'tenant-a', c: 'orders', p: ['k', 'AB', 1] }],
    ['an array body', [1, 'tenant-a']],
  ])('refuses a validly signed body with %s', (_name, body) => {
    invalid(() => codec.decode(signed(JSON.stringify(body)), ORDERS))
  })

  it('refuses a validly signed body that is not JSON', () => {
    invalid(() => codec.decode(signed('{"v":1,'), ORDERS))
  })

  it('refuses to encode what it could not decode', () => {
    expect(() => codec.encode(payload({ tenant: '' }))).toThrow(TypeError)
    expect(() => codec.encode(payload({ collection: undefined as unknown as null }))).toThrow(TypeError)
    expect(() => codec.encode(payload({ position: { kind: 'token', token: 'xyz', time: null } }))).toThrow(TypeError)
    expect(() => codec.encode(payload({ position: { kind: 'time', time: { t: -1, i: 0 } } }))).toThrow(TypeError)
    expect(() => createCursorCodec('')).toThrow(TypeError)
  })

  // encode writes HMAC and JSON by hand for speed: both must stay byte-for-byte what createHmac and JSON.stringify give
  it.each([
    ['a short ASCII secret', SECRET],
    ['an ASCII secret of exactly one block (64 bytes)', 'k'.repeat(64)],
    ['an ASCII secret longer than a block', 'k'.repeat(65)],
    ['a long ASCII secret', `${'0123456789'.repeat(20)}!`],
    ['a non-ASCII secret', 'sécret-ключ'],
    ['a non-ASCII secret longer than a block', 'ключ'.repeat(20)],
    ['a secret with control characters', 'a\u0000b\u007f\tc'],
  ])('signs with HMAC-SHA256 of the secret’s UTF-8 bytes, for %s', (_name, secret) => {
    const mine = createCursorCodec(secret)
    for (const p of [payload(), payload({ collection: null, position: timePosition })]) {
      const cursor = mine.encode(p)
      const [body, mac] = cursor.split('.')
      expect(mac).toBe(createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('base64url'))
      expect(mine.decode(cursor, ORDERS)).toEqual(p)
      expect(mine.decode(signed(JSON.stringify({ v: 1, n: 'tenant-a', c: null, p: ['c', 5, 6] }), secret), ORDERS))
        .toEqual(payload({ collection: null, position: { kind: 'time', time: { t: 5, i: 6 } } }))
      if (secret !== SECRET) {
        invalid(() => codec.decode(cursor, ORDERS))
        invalid(() => mine.decode(codec.encode(p), ORDERS))
      }
    }
  })

  it('compares signature bytes: the last character’s two unused bits do not matter, as before', () => {
    const [body, mac] = codec.encode(payload()).split('.')
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = alphabet.indexOf(mac[42])
    const sibling = `${mac.slice(0, 42)}${alphabet[last ^ 1]}`
    expect(codec.decode(`${body}.${sibling}`, ORDERS)).toEqual(payload())
    invalid(() => codec.decode(`${body}.${mac.slice(0, 42)}${alphabet[last ^ 4]}`, ORDERS))
  })

  it.each<[string, CursorPayload, readonly unknown[]]>([
    ['a plain payload', payload(), ['k', TOKEN, 1709305504, 1]],
    ['quotes and backslashes', payload({ tenant: 'a"b\\c\\"', collection: 'x"y\\' }), ['k', TOKEN, 1709305504, 1]],
    ['unicode and controls', payload({ tenant: 'tenañt-ключ-😀\u0000\n\u2028', collection: null }), ['k', TOKEN, 1709305504, 1]],
    ['a lone surrogate', payload({ tenant: 'a\ud800b', collection: '\udfff' }), ['k', TOKEN, 1709305504, 1]],
    ['a lower-case token of unknown time', payload({ position: { kind: 'token', token: TOKEN.toLowerCase(), time: null } }), ['k', TOKEN]],
    ['a cluster time', payload({ collection: null, position: timePosition }), ['c', 0xffffffff, 0]],
    ['a negative zero', payload({ position: { kind: 'time', time: { t: -0, i: 7 } } }), ['c', 0, 7]],
  ])('writes the body as JSON.stringify({ v, n, c, p }) would, for %s', (_name, p, wire) => {
    const [body] = codec.encode(p).split('.')
    expect(Buffer.from(body, 'base64url').toString('utf8')).toBe(
      JSON.stringify({ v: 1, n: p.tenant, c: p.collection, p: wire }),
    )
    expect(body).toBe(b64(JSON.stringify({ v: 1, n: p.tenant, c: p.collection, p: wire })))
  })
})
