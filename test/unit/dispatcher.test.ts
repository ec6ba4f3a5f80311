import { ObjectId, Timestamp, type Document } from 'mongodb'
import { describe, expect, it } from 'vitest'
import { createDispatcher, holdFilterEvaluator, type Member } from '../../src/streams/dispatcher.js'
import { compileOrderFilter } from '../fixtures/models.js'

type OrderChangeFilter = Record<string, unknown>
import { parseStreamEvent, type Delivery } from '../../src/streams/stream-event.js'

let seq = 0
function orderEvent(op: string, before: Document | null, after: Document | null, extra: Document = {}) {
  seq++
  const id = (after ?? before)?._id ?? new ObjectId()
  return parseStreamEvent(
    'orders',
    {
    _id: { _data: `82${(1000 + seq).toString(16).toUpperCase().padStart(8, '0')}00000001` },
    operationType: op,
    clusterTime: new Timestamp({ t: 1000 + seq, i: 1 }),
    wallTime: new Date(),
    ns: { db: 'changegate', coll: 'orders' },
    documentKey: { _id: id },
    ...(after ? { fullDocument: after } : {}),
    ...(before ? { fullDocumentBeforeChange: before } : {}),
    ...extra,
    },
    'tenantId',
  )
}

function member(filter: OrderChangeFilter | null, tenant: string) {
  const received: Delivery[] = []
  const m: Member = { filter: compileOrderFilter(filter, tenant), deliver: (d) => received.push(d), fail: () => undefined }
  return { m, received }
}

const order = (over: Document = {}): Document => ({
  _id: new ObjectId(),
  tenantId: 'acme',
  customerId: new ObjectId(),
  status: 'pending',
  totalAmount: 50,
  region: 'eu-west',
  ...over,
})

describe('dispatcher', () => {
  it('delivers only to the tenant of the document, with transitions from pre- and post-images', () => {
    const dispatcher = createDispatcher()
    const acme = member({ status: ['SHIPPED'] }, 'acme')
    const globex = member(null, 'globex')
    dispatcher.add(acme.m)
    dispatcher.add(globex.m)
    const before = order()
    const shipped = { ...before, status: 'shipped' }
    const delivered = { ...before, status: 'delivered' }
    dispatcher.dispatch(orderEvent('insert', null, before))
    dispatcher.dispatch(orderEvent('update', before, shipped, { updateDescription: { updatedFields: { status: 'shipped' }, removedFields: [] } }))
    dispatcher.dispatch(orderEvent('update', shipped, delivered, { updateDescription: { updatedFields: { status: 'delivered' }, removedFields: [] } }))
    expect(acme.received.map((d) => d.transition)).toEqual(['ENTERED', 'LEFT'])
    expect(globex.received).toHaveLength(0)
  })

  it('a tenant change is LEFT for the old tenant and ENTERED for the new one', () => {
    const dispatcher = createDispatcher()
    const acme = member(null, 'acme')
    const globex = member(null, 'globex')
    dispatcher.add(acme.m)
    dispatcher.add(globex.m)
    const before = order()
    dispatcher.dispatch(orderEvent('update', before, { ...before, tenantId: 'globex' }))
    expect(acme.received.map((d) => d.transition)).toEqual(['LEFT'])
    expect(globex.received.map((d) => d.transition)).toEqual(['ENTERED'])
  })

  it('a delete without pre-image reaches nobody; with pre-image it is LEFT for its tenant', () => {
    const dispatcher = createDispatcher()
    const acme = member(null, 'acme')
    dispatcher.add(acme.m)
    const doc = order()
    dispatcher.dispatch(orderEvent('delete', null, null))
    dispatcher.dispatch(orderEvent('delete', doc, null))
    expect(acme.received.map((d) => [d.event.operationType, d.transition])).toEqual([['delete', 'LEFT']])
  })

  it('indexes subscribers by customerId: only matching customers are evaluated and delivered', () => {
    const dispatcher = createDispatcher()
    const customers = Array.from({ length: 50 }, () => new ObjectId())
    const members = customers.map((c) => member({ customerId: c.toHexString() }, 'acme'))
    const everyone = member(null, 'acme')
    for (const { m } of [...members, everyone]) dispatcher.add(m)
    const doc = order({ customerId: customers[7] })
    expect(dispatcher.dispatch(orderEvent('insert', null, doc))).toBe(2)
    expect(members[7].received).toHaveLength(1)
    expect(members[8].received).toHaveLength(0)
    expect(everyone.received).toHaveLength(1)
  })

  it('identical filters share a group; removing members stops delivery and keeps counts right', () => {
    const dispatcher = createDispatcher()
    const a = member({ region: 'eu-west' }, 'acme')
    const b = member({ region: 'eu-west' }, 'acme')
    const removeA = dispatcher.add(a.m)
    dispatcher.add(b.m)
    expect(dispatcher.size).toBe(2)
    removeA()
    removeA()
    expect(dispatcher.size).toBe(1)
    dispatcher.dispatch(orderEvent('insert', null, order()))
    expect(a.received).toHaveLength(0)
    expect(b.received).toHaveLength(1)
  })
})

describe('held filter evaluators', () => {
  // A tenant no other test uses: dispatchers elsewhere in this file hold their own filters.
  it('an equal filter is compiled once for all its holders, of any dispatcher, and forgotten when the last lets go', () => {
    const a = holdFilterEvaluator(compileOrderFilter({ status: ['SHIPPED'] }, 'initech'))
    const live = createDispatcher()
    const history = createDispatcher()
    const leaveLive = live.add(member({ status: ['SHIPPED'] }, 'initech').m)
    const leaveHistory = history.add(member({ status: ['SHIPPED'] }, 'initech').m)
    const b = holdFilterEvaluator(compileOrderFilter({ status: ['SHIPPED'] }, 'initech'))
    expect(b.evaluate).toBe(a.evaluate)
    // Another tenant's equal filter is another evaluator.
    const other = holdFilterEvaluator(compileOrderFilter({ status: ['SHIPPED'] }, 'globex'))
    expect(other.evaluate).not.toBe(a.evaluate)
    const shipped = order({ status: 'shipped', tenantId: 'initech' })
    expect(b.evaluate(orderEvent('insert', null, shipped))?.transition).toBe('ENTERED')
    for (const release of [a.release, b.release, b.release, leaveLive, leaveHistory]) release()
    const again = holdFilterEvaluator(compileOrderFilter({ status: ['SHIPPED'] }, 'initech'))
    expect(again.evaluate).not.toBe(a.evaluate)
    again.release()
    other.release()
  })
})
