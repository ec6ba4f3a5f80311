import { randomBytes } from 'node:crypto'
import { ObjectId, type Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { changeCursor as cursorOf, collect, type GatewayProcess, httpGraphQL, signToken, spawnGatewayOverMongo, wsClient } from '../fixtures/gateway.js'
import { type MongoTarget } from '../fixtures/mongo.js'
import { ackedSocket, closeSocket, expectServesWellBehaved, operation, sse, sseCodes } from './support.js'

const ORDER_CHANGED = 'subscription($after: Cursor) { orderChanged(after: $after) { documentId cursor } }'
const USER_UPDATED = 'subscription($after: Cursor) { userProfileUpdated(after: $after) { documentId cursor } }'
const EXPLAIN = 'query($q: String!, $v: JSON) { explainSubscription(query: $q, variables: $v) { pipeline } }'
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

const acmeUser: Document = { _id: new ObjectId(), tenantId: 'acme', email: 'ceo@acme.example', name: 'Acme CEO', tier: 'gold', profile: {}, preferences: {} }
const acmeOrder: Document = { _id: new ObjectId(), tenantId: 'acme', customerId: acmeUser._id, status: 'pending', totalAmount: 1e6, region: 'eu', items: [] }
// globex's order points at acme's user: resolving `customer` must not cross the tenant line.
const globexOrder: Document = { _id: new ObjectId(), tenantId: 'globex', customerId: acmeUser._id, status: 'pending', totalAmount: 5, region: 'eu', items: [] }

describe('tenant isolation and cursors', () => {
  let mongo: MongoTarget
  let gw: GatewayProcess
  let acme: string
  let globex: string
  beforeAll(async () => {
    ;({ gw, mongo } = await spawnGatewayOverMongo())
    await mongo.db.collection('users').insertOne(acmeUser)
    await mongo.db.collection('orders').insertMany([acmeOrder, globexOrder])
    acme = await signToken({ tenant: 'acme' })
    globex = await signToken({ tenant: 'globex' })
  })
  afterAll(async () => {
    await gw?.stop()
    await mongo?.stop()
  })

  const changeCursor = (token: string) => cursorOf(gw.url, token)

  /** The code each transport answers a subscription with `after` with. */
  async function afterCodes(token: string, query: string, after: string) {
    const raw = await ackedSocket(gw.wsUrl, token)
    const { errors, nexts } = await operation(raw, 'c', query, { after })
    await closeSocket(raw)
    const overSse = sseCodes((await sse(gw.url, token, query, { after })).events)[0]
    return { ws: (errors ?? nexts[0]?.errors)?.[0]?.extensions?.code, sse: overSse }
  }

  it("another tenant's documents are unreachable through order(id), user(id), orders and Order.customer", async () => {
    const id = acmeOrder._id.toHexString()
    const own = await httpGraphQL(gw.url, acme, 'query($id: ID!) { order(id: $id) { id customer { email } } }', { id })
    expect(own.body).toEqual({ data: { order: { id, customer: { email: 'ceo@acme.example' } } } })

    expect((await httpGraphQL(gw.url, globex, 'query($id: ID!) { order(id: $id) { id } }', { id })).body).toEqual({ data: { order: null } })
    const user = await httpGraphQL(gw.url, globex, 'query($id: ID!) { user(id: $id) { email } }', { id: acmeUser._id.toHexString() })
    expect(user.body).toEqual({ data: { user: null } })
    const page = await httpGraphQL(gw.url, globex, '{ orders { nodes { id tenantId customer { email } } } }')
    expect(page.body).toEqual({ data: { orders: { nodes: [{ id: globexOrder._id.toHexString(), tenantId: 'globex', customer: null }] } } })
    await expectServesWellBehaved(gw)
  })

  it("explainSubscription plans for the caller's tenant only; a tenant field is refused", async () => {
    const plan = await httpGraphQL<{ explainSubscription: { pipeline: unknown } }>(gw.url, globex, EXPLAIN, { q: ORDER_CHANGED })
    const pipeline = JSON.stringify(plan.body.data?.explainSubscription.pipeline)
    expect(pipeline).toContain('"globex"')
    expect(pipeline).not.toContain('acme')
    const q = 'subscription($f: OrderChangeFilter) { orderChanged(filter: $f) { documentId } }'
    for (const v of [{ f: { tenantId: 'acme' } }, { f: { tenant: 'acme' } }]) {
      const refused = await httpGraphQL(gw.url, globex, EXPLAIN, { q, v })
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    }
    await expectServesWellBehaved(gw)
  })

  it('refuses streams and gatewayNodes without the admin scope with FORBIDDEN', async () => {
    for (const query of ['{ streams { key pipeline } }', '{ gatewayNodes { id address } }']) {
      const { status, body } = await httpGraphQL(gw.url, globex, query)
      expect({ query, status, data: body.data ?? null, codes: body.errors?.map((e) => e.extensions?.code) }).toEqual({
        query,
        status: 200,
        data: null,
        codes: ['FORBIDDEN'],
      })
    }
    await expectServesWellBehaved(gw)
  })

  it("delivers no event of another tenant's documents", async () => {
    const after = await changeCursor(globex)
    const client = wsClient(gw.wsUrl, globex)
    const live = collect<{ documentId: string }>(client, ORDER_CHANGED, { after })
    const orders = mongo.db.collection('orders')
    await orders.insertOne({ ...acmeOrder, _id: new ObjectId() })
    await orders.updateOne({ _id: acmeOrder._id }, { $set: { status: 'confirmed' } })
    const barrier = { ...globexOrder, _id: new ObjectId() }
    await orders.insertOne(barrier)
    expect((await live.waitFor(1)).map((e) => e.documentId)).toEqual([barrier._id.toHexString()])
    live.dispose()
    await client.dispose()
  })

  it("answers forged, tampered, malformed and another tenant's or collection's cursors with INVALID_CURSOR", async () => {
    const acmeCursor = await changeCursor(acme)
    const [body, mac] = acmeCursor.split('.')
    const decoded = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>

    // A cursor bound to the users collection: from a userProfileUpdated event.
    const client = wsClient(gw.wsUrl, acme)
    const users = collect<{ cursor: string }>(client, USER_UPDATED, { after: acmeCursor })
    await mongo.db.collection('users').updateOne({ _id: acmeUser._id }, { $set: { name: 'Renamed' } })
    const [{ cursor: usersCursor }] = await users.waitFor(1)
    users.dispose()
    await client.dispose()

    const hostile: Record<string, string> = {
      "another tenant's": await changeCursor(globex),
      'tenant edited, signature kept': `${b64({ ...decoded, n: 'globex' })}.${mac}`,
      'forged signature': `${body}.${randomBytes(32).toString('base64url')}`,
      'unsigned': body,
      'other collection': usersCursor,
      'operator-shaped': '{"$gt":""}',
      'garbage': 'not.a.cursor',
      'oversized': `${'A'.repeat(5000)}.${mac}`,
    }
    for (const [name, cursor] of Object.entries(hostile)) {
      expect({ name, codes: await afterCodes(acme, ORDER_CHANGED, cursor) }).toEqual({
        name,
        codes: { ws: 'INVALID_CURSOR', sse: 'INVALID_CURSOR' },
      })
    }
    // The genuine cursor still works for its own tenant.
    const genuine = wsClient(gw.wsUrl, acme)
    const resumed = collect<{ documentId: string }>(genuine, ORDER_CHANGED, { after: acmeCursor })
    const next = { ...acmeOrder, _id: new ObjectId() }
    await mongo.db.collection('orders').insertOne(next)
    expect((await resumed.waitFor(1)).map((e) => e.documentId)).toEqual([next._id.toHexString()])
    resumed.dispose()
    await genuine.dispose()
    await expectServesWellBehaved(gw)
  })

  it("an admin's stream resume tokens are bound to the admin's tenant", async () => {
    const admin = await signToken({ tenant: 'globex', scope: 'admin' })
    const { body } = await httpGraphQL<{ streams: Array<{ collection: string; resumeToken: string | null }> }>(gw.url, admin, '{ streams { collection resumeToken } }')
    const token = body.data?.streams.find((s) => s.collection === 'orders' && s.resumeToken)?.resumeToken
    expect(token).toBeTruthy()
    expect(await afterCodes(acme, ORDER_CHANGED, token!)).toEqual({ ws: 'INVALID_CURSOR', sse: 'INVALID_CURSOR' })
    await expectServesWellBehaved(gw)
  })
})
