import { ObjectId, type Collection, type Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { changeCursor, collect, type GatewayProcess, httpGraphQL, signToken, spawnGatewayOverMongo, wsClient } from '../fixtures/gateway.js'
import { type MongoTarget } from '../fixtures/mongo.js'
import { ackedSocket, closeSocket, expectServesWellBehaved, operation, sse, sseCodes } from './support.js'

const SUBSCRIBE = 'subscription($f: OrderChangeFilter, $after: Cursor) { orderChanged(filter: $f, after: $after) { documentId order { region } } }'
const EXPLAIN = 'query($q: String!, $v: JSON) { explainSubscription(query: $q, variables: $v) { pipeline } }'
const ORDERS = 'query($f: OrderFilter, $first: Int) { orders(filter: $f, first: $first) { nodes { id } } }'

/** Strings shaped like MongoDB operators or JSON queries; every one must match only itself. */
const HOSTILE_STRINGS = ['{"$gt":""}', '$where', '{"$ne": null}', '$regex', '.*', 'this.tenantId != ""', "'; return true; //"]

const order = (over: Document = {}): Document => ({
  _id: new ObjectId(),
  tenantId: 'acme',
  customerId: new ObjectId(),
  status: 'pending',
  totalAmount: 10,
  region: 'eu-west',
  items: [],
  ...over,
})

describe('operator-shaped and oversized filter input', () => {
  let mongo: MongoTarget
  let gw: GatewayProcess
  let orders: Collection
  let token: string
  beforeAll(async () => {
    ;({ gw, mongo } = await spawnGatewayOverMongo())
    orders = mongo.db.collection('orders')
    token = await signToken({ tenant: 'acme' })
  })
  afterAll(async () => {
    await gw?.stop()
    await mongo?.stop()
  })

  /** A BAD_USER_INPUT per operation for `variables`, on a WebSocket subscription, an SSE subscription and explainSubscription. */
  async function expectRefused(variables: Record<string, unknown>, transports: Array<'ws' | 'sse' | 'explain'> = ['ws', 'sse', 'explain']) {
    const seen: Record<string, string | undefined> = {}
    if (transports.includes('ws')) {
      const raw = await ackedSocket(gw.wsUrl, token)
      const { errors, nexts } = await operation(raw, 'hostile', SUBSCRIBE, variables)
      seen.ws = (errors ?? nexts[0]?.errors)?.[0]?.extensions?.code
      await closeSocket(raw)
    }
    if (transports.includes('sse')) seen.sse = sseCodes((await sse(gw.url, token, SUBSCRIBE, variables)).events)[0]
    if (transports.includes('explain')) {
      const explained = await httpGraphQL(gw.url, token, EXPLAIN, { q: SUBSCRIBE, v: variables })
      seen.explain = explained.body.errors?.[0]?.extensions?.code
    }
    expect({ variables: JSON.stringify(variables).slice(0, 120), seen }).toEqual({
      variables: JSON.stringify(variables).slice(0, 120),
      seen: Object.fromEntries(transports.map((t) => [t, 'BAD_USER_INPUT'])),
    })
  }

  it('matches operator-shaped region strings literally: each subscription gets only its own documents', async () => {
    const after = await changeCursor(gw.url, token)
    const client = wsClient(gw.wsUrl, token)
    const subscribers = HOSTILE_STRINGS.map((region) => collect<{ documentId: string }>(client, SUBSCRIBE, { f: { region }, after }))
    const literal = new Map(HOSTILE_STRINGS.map((region) => [region, [order({ region }), order({ region })]]))
    // Documents every operator reading would match: other regions, an empty one, none at all, another tenant's.
    await orders.insertMany([order(), order({ region: '' }), order({ region: null }), order({ region: 'us' }), order({ tenantId: 'globex', region: '$where' })])
    await orders.insertMany(HOSTILE_STRINGS.map((region) => literal.get(region)![0]))
    await orders.insertMany([order({ region: 'zz' }), order({ region: '{"$GT":""}' }), order({ region: ' $where' })])
    // Last: the second literal document. Events arrive in commit order, so nothing else can come before it unseen.
    await orders.insertMany(HOSTILE_STRINGS.map((region) => literal.get(region)![1]))
    for (const [i, region] of HOSTILE_STRINGS.entries()) {
      const events = await subscribers[i].waitFor(2)
      expect({ region, ids: events.map((e) => e.documentId) }).toEqual({ region, ids: literal.get(region)!.map((d) => d._id.toHexString()) })
    }
    subscribers.forEach((s) => s.dispose())
    await client.dispose()

    for (const region of HOSTILE_STRINGS) {
      const page = await httpGraphQL<{ orders: { nodes: Array<{ id: string }> } }>(gw.url, token, ORDERS, { f: { region }, first: 500 })
      expect({ region, ids: page.body.data?.orders.nodes.map((n) => n.id).sort() }).toEqual({
        region,
        ids: literal.get(region)!.map((d) => d._id.toHexString()).sort(),
      })
    }
    const plan = await httpGraphQL<{ explainSubscription: { pipeline: unknown } }>(gw.url, token, EXPLAIN, { q: SUBSCRIBE, v: { f: { region: '{"$gt":""}' } } })
    const pipeline = JSON.stringify(plan.body.data?.explainSubscription.pipeline)
    expect(pipeline).toContain(JSON.stringify({ 'fullDocument.region': { $eq: '{"$gt":""}' } }).slice(1, -1))
    await expectServesWellBehaved(gw)
  })

  it('refuses operator-shaped field names and ids with BAD_USER_INPUT', async () => {
    for (const f of [
      { fieldsChanged: ['$where'] },
      { fieldsChanged: ['status.$'] },
      { fieldsChanged: ['items.0'] },
      { fieldsChanged: ['$$ROOT'] },
      { customerId: '{"$ne": null}' },
      { customerId: '$where' },
      { customerId: "ObjectId('0123456789abcdef01234567')" },
    ]) {
      await expectRefused({ f })
    }
    for (const id of ['{"$ne": null}', '$where', '0123456789abcdef0123456']) {
      for (const query of ['query($id: ID!) { order(id: $id) { id } }', 'query($id: ID!) { user(id: $id) { id } }']) {
        const { body } = await httpGraphQL(gw.url, token, query, { id })
        expect({ id, code: body.errors?.[0]?.extensions?.code, data: Object.values(body.data ?? {})[0] ?? null }).toEqual({ id, code: 'BAD_USER_INPUT', data: null })
      }
    }
    const page = await httpGraphQL(gw.url, token, ORDERS, { f: { customerId: '{"$ne": null}' } })
    expect(page.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    const users = 'subscription($f: UserProfileFilter) { userProfileUpdated(filter: $f) { documentId } }'
    for (const userId of ['{"$ne": null}', '$where']) {
      const raw = await ackedSocket(gw.wsUrl, token)
      const { errors, nexts } = await operation(raw, 'u', users, { f: { userId } })
      await closeSocket(raw)
      expect({ userId, code: (errors ?? nexts[0]?.errors)?.[0]?.extensions?.code }).toEqual({ userId, code: 'BAD_USER_INPUT' })
    }
    await expectServesWellBehaved(gw)
  })

  it('refuses JSON objects where strings are expected (variable coercion) with BAD_USER_INPUT', async () => {
    for (const f of [{ region: { $gt: '' } }, { customerId: { $ne: null } }, { fieldsChanged: [{ $where: '1' }] }, { status: { $ne: 'PENDING' } }, { tenantId: 'globex' }]) {
      await expectRefused({ f })
      const page = await httpGraphQL(gw.url, token, ORDERS, { f })
      expect({ f, code: page.body.errors?.[0]?.extensions?.code }).toEqual({ f, code: 'BAD_USER_INPUT' })
    }
    await expectServesWellBehaved(gw)
  })

  it('refuses huge lists and strings with BAD_USER_INPUT', async () => {
    const many = <T>(n: number, value: T) => Array.from({ length: n }, () => value)
    for (const f of [
      { status: many(10_000, 'PENDING') },
      { statusChangedTo: many(10_000, 'SHIPPED') },
      { operationTypes: many(10_000, 'INSERT') },
      { fieldsChanged: Array.from({ length: 10_000 }, (_, i) => `f${i}`) },
      { region: 'x'.repeat(10_000) },
    ]) {
      await expectRefused({ f }, ['sse', 'explain'])
    }
    // On a WebSocket the list must fit in one 64 KiB frame; 5,000 entries do.
    await expectRefused({ f: { status: many(5_000, 'PENDING') } }, ['ws'])
    const page = await httpGraphQL(gw.url, token, ORDERS, { first: 100_000 })
    expect(page.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    await expectServesWellBehaved(gw)
  })

  it('closes a WebSocket whose 10,000-entry list exceeds the frame limit with 1009', async () => {
    const raw = await ackedSocket(gw.wsUrl, token)
    raw.send({ id: 'huge', type: 'subscribe', payload: { query: SUBSCRIBE, variables: { f: { status: Array(10_000).fill('PENDING') } } } })
    expect((await raw.closed).code).toBe(1009)
    await expectServesWellBehaved(gw)
  })
})
