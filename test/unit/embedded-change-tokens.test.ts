import { Binary, Timestamp } from 'bson'
import { describe, expect, it } from 'vitest'
import {
  decodeToken,
  encodeToken,
  eventPoint,
  highWaterMarkAfter,
  highWaterMarkAt,
  nextTick,
} from '../../src/embedded/changes/tokens.js'

const ts = (t: number, i: number) => new Timestamp({ t, i })

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn()
  } catch (error) {
    return (error as { code?: number }).code
  }
  return undefined
}

describe('resume tokens', () => {
  it('round-trips every field', () => {
    for (const point of [
      eventPoint(ts(1_700_000_000, 7), 42),
      eventPoint(ts(0xffffffff, 0xffffffff), Number.MAX_SAFE_INTEGER, true),
      highWaterMarkAt(ts(1_700_000_000, 0), 0),
    ]) {
      const decoded = decodeToken({ _data: encodeToken(point) })
      expect(decoded.kind).toBe(point.kind)
      expect(decoded.seq).toBe(point.seq)
      expect(decoded.fromInvalidate).toBe(point.fromInvalidate)
      expect(decoded.ts.equals(point.ts)).toBe(true)
    }
  })

  it('is upper-case hex, starting with the cluster time as MongoDB encodes it', () => {
    const data = encodeToken(eventPoint(ts(0x6553f100, 3), 9))
    expect(data).toMatch(/^[0-9A-F]+$/)
    expect(data.startsWith('826553F10000000003')).toBe(true)
  })

  it('sorts by string comparison in event order', () => {
    const events = [
      eventPoint(ts(100, 1), 1),
      eventPoint(ts(100, 2), 2),
      eventPoint(ts(100, 2), 2, true), // the invalidate after the drop at (100, 2)
      eventPoint(ts(101, 1), 3),
      eventPoint(ts(0x1_0000, 1), 4), // more digits in decimal, same width in hex
    ].map(encodeToken)
    expect([...events].sort()).toEqual(events)
  })

  it('puts a high-water mark after everything it covers and before anything later', () => {
    const last = eventPoint(ts(100, 5), 5)
    const invalidate = eventPoint(ts(100, 5), 5, true)
    const mark = highWaterMarkAfter(ts(100, 5), 5)
    const later = eventPoint(nextTick(ts(100, 5)), 6)
    const muchLater = eventPoint(ts(101, 1), 6)
    expect(encodeToken(mark) > encodeToken(last)).toBe(true)
    expect(encodeToken(mark) > encodeToken(invalidate)).toBe(true)
    expect(encodeToken(mark) < encodeToken(later)).toBe(true)
    expect(encodeToken(mark) < encodeToken(muchLater)).toBe(true)
  })

  it('ticks over to the next second when the increment is exhausted', () => {
    const next = nextTick(ts(100, 0xffffffff))
    expect([next.t, next.i]).toEqual([101, 0])
  })

  it('accepts lower-case hex and _typeBits', () => {
    const data = encodeToken(eventPoint(ts(100, 1), 1)).toLowerCase()
    expect(decodeToken({ _data: data, _typeBits: new Binary(Buffer.from([1])) }).seq).toBe(1)
  })

  it('refuses malformed tokens with MongoDB codes', () => {
    expect(codeOf(() => decodeToken({}))).toBe(40647)
    expect(codeOf(() => decodeToken({ _data: 12 }))).toBe(40647)
    expect(codeOf(() => decodeToken({ _data: 'zz' }))).toBe(9)
    expect(codeOf(() => decodeToken({ _data: 'abc' }))).toBe(9)
    expect(codeOf(() => decodeToken({ _data: '' }))).toBe(40649)
    expect(codeOf(() => decodeToken({ _data: '8200' }))).toBe(9)
    expect(codeOf(() => decodeToken({ _data: encodeToken(eventPoint(ts(1, 1), 1)), _typeBits: 'x' }))).toBe(40648)
  })
})
