import * as bson from 'bson'
import { Timestamp } from 'mongodb'
import { describe, expect, it } from 'vitest'
import {
  comparePositions,
  isAfter,
  positionFromEvent,
  positionFromTime,
  positionFromToken,
  tokenClusterTime,
  type Position,
} from '../../src/mongo/position.js'

const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0')
/** Tokens as MongoDB lays them out: 82, cluster time t and i, then the rest (event tokens: 2B04 2C0100 ...). */
const eventToken = (t: number, i: number, rest = '2B042C0100296E5A1004AA') => `82${hex(t)}${hex(i)}${rest}`
const highWaterMark = (t: number, i: number) => `82${hex(t)}${hex(i)}2B0229296E04`
const token = (data: string): Position => positionFromToken({ _data: data })
const time = (t: number, i: number): Position => positionFromTime({ t, i })

describe('positions', () => {
  it('reads the cluster time from an event, or from its token', () => {
    expect(positionFromEvent({ _id: { _data: eventToken(100, 2) }, clusterTime: new Timestamp({ t: 100, i: 2 }) })).toEqual({
      kind: 'token',
      token: eventToken(100, 2),
      time: { t: 100, i: 2 },
    })
    expect(positionFromEvent({ _id: { _data: eventToken(100, 3).toLowerCase() } })).toEqual({
      kind: 'token',
      token: eventToken(100, 3),
      time: { t: 100, i: 3 },
    })
    expect(positionFromEvent({ _id: { _data: 'abc' }, clusterTime: new bson.Timestamp({ t: 0xfffffff0, i: 7 }) }).time).toEqual({
      t: 0xfffffff0,
      i: 7,
    })
    expect(tokenClusterTime('0123')).toBeNull()
    expect(positionFromTime(new Timestamp({ t: 5, i: 6 }))).toEqual({ kind: 'time', time: { t: 5, i: 6 } })
  })

  it('orders tokens by their bytes: time first, then position within the time', () => {
    const ordered = [
      token(highWaterMark(100, 1)),
      token(eventToken(100, 1, '2B042C0100296E5A1004AA')),
      token(eventToken(100, 1, '2B042C0100296E5A1004BB')),
      token(eventToken(100, 2)),
      token(eventToken(101, 0)),
    ]
    for (let a = 0; a < ordered.length; a++) {
      for (let b = 0; b < ordered.length; b++) {
        expect(Math.sign(comparePositions(ordered[a], ordered[b]))).toBe(Math.sign(a - b))
      }
    }
    expect(comparePositions(token(eventToken(100, 1).toLowerCase()), token(eventToken(100, 1)))).toBe(0)
  })

  it('orders times by t, then i', () => {
    expect(comparePositions(time(1, 5), time(2, 0))).toBeLessThan(0)
    expect(comparePositions(time(2, 1), time(2, 0))).toBeGreaterThan(0)
    expect(comparePositions(time(2, 1), time(2, 1))).toBe(0)
    expect(comparePositions(time(0xffffffff, 0), time(1, 0))).toBeGreaterThan(0)
  })

  it('puts an event committed at T before time T, and after the time before it', () => {
    const event = positionFromEvent({ _id: { _data: eventToken(100, 2) }, clusterTime: new Timestamp({ t: 100, i: 2 }) })
    expect(comparePositions(event, time(100, 2))).toBeLessThan(0)
    expect(comparePositions(time(100, 2), event)).toBeGreaterThan(0)
    expect(comparePositions(event, time(100, 1))).toBeGreaterThan(0)
    expect(comparePositions(time(100, 1), event)).toBeLessThan(0)
    expect(comparePositions(event, time(99, 0xffffffff))).toBeGreaterThan(0)
  })

  it('treats a high-water mark at T as not yet covering events at T', () => {
    expect(comparePositions(token(highWaterMark(100, 2)), time(100, 2))).toBeLessThan(0)
    expect(comparePositions(token(highWaterMark(100, 3)), time(100, 2))).toBeGreaterThan(0)
  })

  it('puts a token of unknown time before every time', () => {
    const unknown: Position = { kind: 'token', token: 'ABCD', time: null }
    expect(comparePositions(unknown, time(0, 0))).toBeLessThan(0)
    expect(comparePositions(time(0, 0), unknown)).toBeGreaterThan(0)
  })

  it('isAfter: an event strictly after a position is new to a subscriber there', () => {
    const at = (t: number, i: number) => positionFromEvent({ _id: { _data: eventToken(t, i) }, clusterTime: new Timestamp({ t, i }) })
    const cursor = time(100, 5)
    expect(isAfter(at(100, 5), cursor)).toBe(false)
    expect(isAfter(at(100, 6), cursor)).toBe(true)
    expect(isAfter(at(100, 6), at(100, 6))).toBe(false)
    expect(isAfter(at(100, 7), at(100, 6))).toBe(true)
    expect(isAfter(at(99, 9), at(100, 6))).toBe(false)
  })
})
