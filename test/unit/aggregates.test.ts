import type { Document } from 'mongodb'
import { describe, expect, it } from 'vitest'
import { aggregateFieldsOf } from '../../src/aggregates/fields.js'
import { LiveAggregate, type Clock } from '../../src/aggregates/live-aggregate.js'
import { compileAggregate, throttleOf } from '../../src/aggregates/request.js'
import { AggregateState, TooManyGroupsError } from '../../src/aggregates/state.js'
import { windowAt } from '../../src/aggregates/window.js'
import type { Position } from '../../src/mongo/position.js'
import { orderModel } from '../fixtures/models.js'
import { loadSupportDesk } from '../fixtures/model-cases.js'

/** A clock the test moves by hand; timers fire when it passes them. */
function manualClock(startMs: number): Clock & { advance(ms: number): void } {
  let now = startMs
  let timers: { at: number; run: () => void }[] = []
  return {
    now: () => now,
    schedule(ms, run) {
      const timer = { at: now + ms, run }
      timers.push(timer)
      return () => (timers = timers.filter((t) => t !== timer))
    },
    advance(ms) {
      const until = now + ms
      for (;;) {
        const due = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0]
        if (!due) break
        timers = timers.filter((t) => t !== due)
        now = due.at
        due.run()
      }
      now = until
    },
  }
}

const fields = aggregateFieldsOf(orderModel)
const at = (t: number): Position => ({ kind: 'time', time: { t, i: 1 } })
const order = (status: string, totalAmount: number | undefined, extra: Document = {}): Document => ({ tenantId: 'acme', status, totalAmount, ...extra })

describe('aggregate fields of a model', () => {
  it('groups by single scalars and enums (not the tenant, not lists), sums numbers, windows on dates', () => {
    expect(fields.groupable.map((f) => f.enumValue)).toEqual(['STATUS', 'CURRENCY', 'REGION', 'CUSTOMER_ID'])
    expect(fields.numeric.map((f) => f.name)).toEqual(['totalAmount'])
    expect(fields.time.map((f) => f.enumValue)).toEqual(['CREATED_AT', 'UPDATED_AT'])
  })

  it('flattens nested fields and leaves out the nested tenant', async () => {
    const ticket = (await loadSupportDesk()).byName('Ticket')!
    const t = aggregateFieldsOf(ticket)
    expect(t.groupable.map((f) => [f.enumValue, f.name])).toContainEqual(['SLA_TIER', 'slaTier'])
    expect(t.groupable.map((f) => f.path)).not.toContain('org.id')
    expect(t.numeric.map((f) => f.path)).toEqual(['severity', 'sla.hours'])
  })
})

describe('aggregate arguments', () => {
  const compile = (args: Parameters<typeof compileAggregate>[2]) => compileAggregate(orderModel, fields, args, 'acme')

  it('binds the tenant to both the change filter and the starting read', () => {
    const request = compile({ where: { region: { eq: 'eu-west' } }, groupBy: ['STATUS', 'STATUS'] })
    expect(request.filter.tenant).toBe('acme')
    expect(request.documentQuery).toEqual({ $and: [{ tenantId: { $eq: 'acme' } }, { region: { $eq: 'eu-west' } }] })
    expect(request.spec.groupBy.map((f) => f.path)).toEqual(['status'])
  })

  it.each([
    [{ window: { size: 0 } }, /window.size/],
    [{ window: { size: 10, slide: 3 } }, /divides/],
    [{ window: { size: 100_000, slide: 1 } }, /at most 1000/],
    [{ window: { size: 10, on: 'STATUS' } }, /not a date field/],
    [{ groupBy: ['TENANT_ID'] }, /not a field this model groups by/],
    [{ where: { nope: { eq: 1 } } }, /where/],
  ])('refuses %j', (args, message) => {
    expect(() => compile(args as never)).toThrow(message)
  })

  it('checks throttleMs', () => {
    expect(throttleOf(undefined)).toBe(500)
    expect(throttleOf(0)).toBe(0)
    expect(() => throttleOf(-1)).toThrow(/throttleMs/)
    expect(() => throttleOf(60_001)).toThrow(/throttleMs/)
  })
})

describe('aggregate totals', () => {
  it('keeps min and max exact when the extreme value is removed, and sums free of drift', () => {
    const state = new AggregateState(1, 10)
    const c = (n: number) => ({ bucket: 0, key: '[]', keyValues: [], numbers: [n] })
    for (const n of [0.1, 0.2, 0.3, 5, 1e15]) state.add(c(n))
    state.remove(c(1e15))
    state.remove(c(5))
    const [group] = state.values()
    expect(group.count).toBe(3)
    expect(group.min[0]).toBe(0.1)
    expect(group.max[0]).toBe(0.3)
    expect(Math.abs(group.sum[0] - 0.6)).toBeLessThan(1e-15)
    state.remove(c(0.1))
    state.remove(c(0.2))
    state.remove(c(0.3))
    expect(state.values()).toEqual([])
  })

  it('refuses a group past the limit', () => {
    const state = new AggregateState(0, 2)
    const c = (key: string) => ({ bucket: 0, key, keyValues: [key], numbers: [] })
    state.add(c('a'))
    state.add(c('b'))
    state.add(c('a'))
    expect(() => state.add(c('c'))).toThrow(TooManyGroupsError)
    state.remove(c('b'))
    expect(() => state.add(c('c'))).not.toThrow()
  })
})

describe('windows on a controllable clock', () => {
  it('buckets leave a sliding window on time, without any write', () => {
    const start = 1_700_000_000_000 // a multiple of 10 s
    const clock = manualClock(start)
    const window = { sizeSeconds: 30, slideSeconds: 10, timeField: null }
    const live = new LiveAggregate({ groupBy: [fields.groupable[0]], numeric: fields.numeric, window }, clock, 100)
    const t0 = start / 1000
    live.apply({ position: at(t0 + 1), seconds: t0 + 1, id: 'a', before: null, after: order('pending', 10) })
    live.apply({ position: at(t0 + 12), seconds: t0 + 12, id: 'b', before: null, after: order('pending', 5) })
    live.start(at(t0 + 12))
    const versions: number[] = []
    live.onChange(() => versions.push(live.version))
    clock.advance(12_000)
    const first = live.snapshot()
    expect(windowAt(window, t0 + 12)).toEqual({ start: t0 - 10, end: t0 + 20 })
    expect(first.groups.map((g) => [g.keyValues, g.count, g.sum[0]])).toEqual([[['pending'], 2, 15]])

    // At t0+29 the window is [t0, t0+30): both in. At t0+30 it is [t0+10, t0+40): a's bucket has left.
    clock.advance(17_000)
    expect(live.snapshot().groups[0].count).toBe(2)
    const before = versions.length
    clock.advance(1_000)
    expect(versions.length).toBeGreaterThan(before)
    expect(live.snapshot().groups.map((g) => [g.count, g.sum[0]])).toEqual([[1, 5]])
    clock.advance(10_000)
    expect(live.snapshot().groups).toEqual([])
  })

  it('a document dated in the future enters a window on its date field when its time comes', () => {
    const start = 1_700_000_000_000
    const clock = manualClock(start)
    const window = { sizeSeconds: 10, slideSeconds: 10, timeField: 'createdAt' }
    const live = new LiveAggregate({ groupBy: [], numeric: fields.numeric, window }, clock, 100)
    live.addDocument(order('pending', 1, { createdAt: new Date(start + 2_000) }))
    live.addDocument(order('pending', 2, { createdAt: new Date(start + 15_000) }))
    live.start(at(start / 1000))
    expect(live.snapshot().groups.map((g) => g.sum[0])).toEqual([1])
    let changed = 0
    live.onChange(() => changed++)
    clock.advance(10_000)
    expect(changed).toBe(1)
    expect(live.snapshot().groups.map((g) => g.sum[0])).toEqual([2])
  })

  it('moves a document between groups with its pre- and post-image, and out on delete', () => {
    const clock = manualClock(1_700_000_000_000)
    const live = new LiveAggregate({ groupBy: [fields.groupable[0]], numeric: fields.numeric, window: null }, clock, 100)
    live.addDocument(order('pending', 10))
    live.start(at(1))
    live.apply({ position: at(2), seconds: 2, id: 'x', before: order('pending', 10), after: order('shipped', 12) })
    expect(live.snapshot().groups.map((g) => [g.keyValues[0], g.count, g.sum[0]])).toEqual([['shipped', 1, 12]])
    live.apply({ position: at(3), seconds: 3, id: 'x', before: order('shipped', 12), after: null })
    expect(live.snapshot().groups).toEqual([])
    expect(live.snapshot().position).toEqual(at(3))
  })

  it('reset() forgets the value until the next start(), and that value is new to every subscriber', () => {
    const clock = manualClock(1_700_000_000_000)
    const window = { sizeSeconds: 30, slideSeconds: 10, timeField: null }
    const live = new LiveAggregate({ groupBy: [fields.groupable[0]], numeric: fields.numeric, window }, clock, 100)
    const t0 = clock.now() / 1000
    live.apply({ position: at(t0), seconds: t0, id: 'a', before: null, after: order('pending', 10) })
    live.start(at(t0))
    const version = live.version
    let notified = 0
    live.onChange(() => notified++)

    live.reset()
    expect(live.ready).toBe(false)
    // Computing it again (what the history says at the new position) tells nobody until it is complete.
    live.apply({ position: at(t0 + 1), seconds: t0 + 1, id: 'b', before: null, after: order('shipped', 7) })
    clock.advance(15_000)
    expect(notified).toBe(0)
    live.start(at(t0 + 1))
    expect(notified).toBe(1)
    expect(live.version).toBeGreaterThan(version)
    const snapshot = live.snapshot()
    expect(snapshot.position).toEqual(at(t0 + 1))
    expect(snapshot.groups.map((g) => [g.keyValues[0], g.count, g.sum[0]])).toEqual([['shipped', 1, 7]])
  })
})
