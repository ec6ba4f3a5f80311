import type { Client } from 'graphql-ws'
import { ObjectId, type ChangeStream, type Collection, type Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { changeStreamCursors } from '../fixtures/current-op.js'
import { changeCursor, collect, type Collector, httpGraphQL, wsClient } from '../fixtures/gateway.js'
import { MODEL_CASES, loadSupportDesk, type ModelCase } from '../fixtures/model-cases.js'
import { describeEmbeddedOnly } from '../fixtures/mongo.js'

/**
 * DESIGN §5/§6 guarantees for every configured model: the same tests run for the demo and for a configuration that is
 * not the demo (test/fixtures/configs/support-desk.config.ts).
 */

interface Event {
  cursor: string
  operationType: string
  transition: string
  documentId: string
  [image: string]: unknown
}

const settle = () => new Promise((r) => setTimeout(r, 400))

describe.each(MODEL_CASES)('$name', (c: ModelCase) => {
  let gw: TestGateway
  let collection: Collection
  const clients: Client[] = []
  const SUBSCRIBE = `subscription($f: ${c.filterType}, $after: Cursor) { ${c.subscription}(filter: $f, after: $after) {
    cursor operationType transition documentId ${c.image} { ${c.selection} } ${c.image}Before { id } } }`

  const cursorNow = async (tenant: string) =>
    await changeCursor(gw.url, await gw.token(tenant))

  const subscribe = async (tenant: string, filter: unknown = null, after?: string): Promise<Collector<Event>> => {
    const client = wsClient(gw.wsUrl, await gw.token(tenant))
    clients.push(client)
    return collect<Event>(client, SUBSCRIBE, { f: filter, after: after ?? (await cursorNow(tenant)) })
  }

  beforeAll(async () => {
    gw = await startTestGateway({ models: await c.models() })
    collection = gw.mongo.db.collection(c.collection)
  })
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()))
    await gw?.stop()
  })

  it('delivers every change of the tenant exactly once, in commit order, and nothing of another tenant (oracle: a driver change stream)', async () => {
    const acme = await subscribe('acme')
    const globex = await subscribe('globex')
    const oracle: ChangeStream = collection.watch([], { fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable', startAtOperationTime: undefined })
    await oracle.tryNext()
    const live: Document[] = []
    let random = 7
    const next = (n: number) => (random = (random * 1103515245 + 12345) % 2147483648) % n
    let writes = 0
    for (let n = 0; n < 40; n++) {
      const ids = (await collection.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id)
      const pick = ids[next(Math.max(ids.length, 1))]
      const tenant = next(2) === 0 ? 'acme' : 'globex'
      const op = ids.length < 3 ? 0 : next(5)
      // A write that changes nothing (a move to the same tenant) makes no change event.
      if (op === 0) writes += (await collection.insertOne(c.make(tenant, n))).acknowledged ? 1 : 0
      else if (op === 1) writes += (await collection.updateOne({ _id: pick }, c.touch(n))).modifiedCount
      else if (op === 2) writes += (await collection.replaceOne({ _id: pick }, { ...c.make(tenant, n), _id: pick })).modifiedCount
      else if (op === 3) writes += (await collection.deleteOne({ _id: pick })).deletedCount
      else writes += (await collection.updateOne({ _id: pick }, c.moveTo(tenant))).modifiedCount
    }
    while (live.length < writes) {
      const event = await oracle.tryNext()
      if (event) live.push(event)
    }
    await oracle.close()
    const tenantOf = (doc: Document | undefined) => (doc ? (c.collection === 'orders' ? doc.tenantId : doc.org?.id) : undefined)
    const expected = (tenant: string) =>
      live
        .filter((e) => tenantOf(e.fullDocument) === tenant || tenantOf(e.fullDocumentBeforeChange) === tenant)
        .map((e) => `${e.operationType.toUpperCase()} ${String(e.documentKey._id)}`)
    for (const [tenant, collector] of [['acme', acme], ['globex', globex]] as const) {
      await collector.waitFor(expected(tenant).length)
      await settle()
      expect(collector.events.map((e) => `${e.operationType} ${e.documentId}`)).toEqual(expected(tenant))
      expect(collector.errors).toEqual([])
    }

    // after: a cursor from the middle replays exactly the rest, then continues live.
    const middle = Math.floor(acme.events.length / 2)
    const replay = await subscribe('acme', null, acme.events[middle].cursor)
    const rest = acme.events.slice(middle + 1).map((e) => `${e.operationType} ${e.documentId}`)
    await replay.waitFor(rest.length)
    await settle()
    expect(replay.events.map((e) => `${e.operationType} ${e.documentId}`)).toEqual(rest)
  })

  it('decides ENTERED, UPDATED and LEFT from pre- and post-images, and a tenant move is LEFT without content for one tenant, ENTERED without history for the other', async () => {
    const acme = await subscribe('acme', c.filter)
    const globex = await subscribe('globex', c.filter)
    const doc = c.make('acme', 1)
    await collection.insertOne(doc)
    await collection.updateOne({ _id: doc._id }, c.enter)
    await collection.updateOne({ _id: doc._id }, c.touch(2))
    await collection.updateOne({ _id: doc._id }, c.leave)
    await collection.updateOne({ _id: doc._id }, { $set: { ...c.enter.$set, ...(c.collection === 'tickets' ? { open: true } : {}) } })
    await collection.updateOne({ _id: doc._id }, c.moveTo('globex'))
    const events = await acme.waitFor(5)
    await globex.waitFor(1)
    await settle()
    expect(events.map((e) => e.transition)).toEqual(['ENTERED', 'UPDATED', 'LEFT', 'ENTERED', 'LEFT'])
    expect(events[2][c.image]).not.toBeNull()
    expect(events[4][c.image]).toBeNull()
    expect(events[4][`${c.image}Before`]).toEqual({ id: doc._id.toHexString() })
    expect(globex.events.map((e) => [e.transition, e[`${c.image}Before`]])).toEqual([['ENTERED', null]])
    expect((globex.events[0][c.image] as { id: string }).id).toBe(doc._id.toHexString())
  })

  it('shares one change stream per collection however many subscriptions and filters', async () => {
    await Promise.all([subscribe('acme'), subscribe('acme', c.filter), subscribe('globex', c.filter), subscribe('globex')])
    const admin = await gw.token('acme', 'admin')
    const { body } = await httpGraphQL<{ streams: Array<{ collection: string; subscribers: number; state: string }> }>(
      gw.url,
      admin,
      '{ streams { collection subscribers state } }',
    )
    const mine = body.data!.streams.filter((s) => s.collection === c.collection)
    expect(mine).toHaveLength(1)
    expect(mine[0].state).toBe('RUNNING')
    expect(mine[0].subscribers).toBeGreaterThanOrEqual(4)
    // Counted by MongoDB: once the subscriptions' catch-ups are closed, one change stream cursor on the collection.
    const ns = `${gw.mongo.db.databaseName}.${c.collection}`
    await expect.poll(async () => (await changeStreamCursors(gw.mongo.client, ns)).length, { timeout: 10_000 }).toBe(1)
  })
})

describeEmbeddedOnly.each(MODEL_CASES)('$name with a short history', (c: ModelCase) => {
  it('a cursor older than the retained history ends with CURSOR_EXPIRED, never a silent jump to now', async () => {
    const gw = await startTestGateway({ models: await c.models(), oplogMaxEntries: 20 })
    try {
      const token = await gw.token('acme')
      const after = await changeCursor(gw.url, token)
      await gw.mongo.db.collection(c.collection).insertMany(Array.from({ length: 50 }, (_, n) => c.make('acme', n)))
      const client = wsClient(gw.wsUrl, token)
      const sub = collect<Event>(client, `subscription($a: Cursor) { ${c.subscription}(after: $a) { documentId } }`, { a: after })
      await sub.completed
      expect(sub.events).toEqual([])
      expect(sub.errors.map((e) => e.extensions?.code)).toEqual(['CURSOR_EXPIRED'])
      await client.dispose()
    } finally {
      await gw.stop()
    }
  })
})

describe('support-desk: relations, models without tenants, string ids and list queries', () => {
  let gw: TestGateway
  beforeAll(async () => {
    gw = await startTestGateway({ models: await loadSupportDesk() })
  })
  afterAll(() => gw?.stop())

  it('resolves a relation within the tenant only, and serves a model without tenants to every tenant', async () => {
    const db = gw.mongo.db
    const ours = new ObjectId()
    const theirs = new ObjectId()
    await db.collection('agents').insertMany([
      { _id: ours, orgId: 'acme', name: 'Ada' },
      { _id: theirs, orgId: 'globex', name: 'Grace' },
    ])
    const clientA = wsClient(gw.wsUrl, await gw.token('acme'))
    const clientB = wsClient(gw.wsUrl, await gw.token('globex'))
    const cursorA = await changeCursor(gw.url, await gw.token('acme'))
    const tickets = collect<{ ticket: { assignee: { name: string } | null } }>(
      clientA,
      'subscription($a: Cursor) { ticketChanged(after: $a, filter: { minSeverity: 2 }) { ticket { assignee { name } } } }',
      { a: cursorA },
    )
    const newsA = collect<{ announcement: { id: string; level: string } }>(clientA, 'subscription($a: Cursor) { announcementChanged(after: $a) { announcement { id level } } }', { a: cursorA })
    const newsB = collect<{ announcement: { id: string; level: string } }>(
      clientB,
      'subscription($a: Cursor) { announcementChanged(after: $a) { announcement { id level } } }',
      { a: await changeCursor(gw.url, await gw.token('globex')) },
    )
    const base = { org: { id: 'acme' }, title: 't', open: true, priority: 'high' }
    await db.collection('tickets').insertMany([
      { ...base, severity: 1, assigneeId: ours },
      { ...base, severity: 3, assigneeId: ours },
      { ...base, severity: 4, assigneeId: theirs },
    ])
    await db.collection<{ _id: string; text: string; level: string }>('announcements').insertOne({ _id: 'maintenance-1', text: 'Down at noon', level: 'warn' })
    expect((await tickets.waitFor(2)).map((e) => e.ticket.assignee)).toEqual([{ name: 'Ada' }, null])
    expect((await newsA.waitFor(1))[0].announcement).toEqual({ id: 'maintenance-1', level: 'WARNING' })
    expect((await newsB.waitFor(1))[0].announcement).toEqual({ id: 'maintenance-1', level: 'WARNING' })

    const page = await httpGraphQL<{ tickets: { nodes: Array<{ severity: number; priority: string }> } }>(
      gw.url,
      await gw.token('acme'),
      '{ tickets(where: { severity: { gte: 3 }, priority: { eq: HIGH } }) { nodes { severity priority } } }',
    )
    expect(page.body.data!.tickets.nodes).toEqual([
      { severity: 3, priority: 'HIGH' },
      { severity: 4, priority: 'HIGH' },
    ])
    const none = await httpGraphQL<{ tickets: { nodes: unknown[] } }>(gw.url, await gw.token('globex'), '{ tickets { nodes { id } } }')
    expect(none.body.data!.tickets.nodes).toEqual([])
    const bad = await httpGraphQL(gw.url, await gw.token('acme'), '{ tickets(where: { assigneeId: { eq: "nope" } }) { nodes { id } } }')
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    await clientA.dispose()
    await clientB.dispose()
  })

  it('opens GraphiQL and the console on a subscription of the configured models, which runs', async () => {
    const fresh = await fetch(gw.url, { headers: { accept: 'text/html' }, redirect: 'manual' })
    expect(fresh.status).toBe(302)
    const query = new URL(fresh.headers.get('location')!, gw.url).searchParams.get('query')!
    expect(query).toContain('ticketChanged {')
    const consolePage = await (await fetch(new URL('/console', gw.url))).text()
    expect(consolePage).toContain('name="changegate-example"')
    expect(consolePage).toContain('ticketChanged')
    const plan = await httpGraphQL<{ explainSubscription: { collection: string } }>(
      gw.url,
      await gw.token('acme'),
      'query($q: String!) { explainSubscription(query: $q) { collection } }',
      { q: query },
    )
    expect(plan.body.data?.explainSubscription.collection).toBe('tickets')
  })
})
