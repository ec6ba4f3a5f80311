import { ObjectId } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { collect, wsClient } from '../fixtures/gateway.js'
import { streamSubscribers } from '../fixtures/streams.js'

// Selections in an order different from the schema's (streams, gatewayNodes, … ; key before state, …), with
// fields that resolve synchronously, asynchronously and through a DataLoader.
const QUERY = '{ gatewayNodes { subscriptions id } streams { state key } changeCursor }'
const QUERY_KEYS = ['gatewayNodes', 'streams', 'changeCursor']
const SUBSCRIPTION =
  'subscription { orderChanged { updatedFields { value path } order { customer { email id } totalAmount status } transition documentId } }'
const EVENT_KEYS = ['updatedFields', 'order', 'transition', 'documentId']
const ORDER_KEYS = ['customer', 'totalAmount', 'status']

/** Keys of every object along the response, in the order they appear in the JSON text. */
const keysOf = (value: unknown) => Object.keys(value as Record<string, unknown>)

async function readSSE(response: Response, count: number): Promise<Array<Record<string, unknown>>> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  const payloads: Array<Record<string, unknown>> = []
  let buffer = ''
  try {
    while (payloads.length < count) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      let end: number
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const lines = buffer.slice(0, end).split('\n')
        buffer = buffer.slice(end + 2)
        const data = lines.find((l) => l.startsWith('data:'))
        if (lines.includes('event: next') && data) payloads.push(JSON.parse(data.slice(5)) as Record<string, unknown>)
      }
    }
  } finally {
    await reader.cancel()
  }
  return payloads
}

describe('response fields in the order the selection set asks for', () => {
  let gw: TestGateway
  let token: string
  const customerId = new ObjectId()
  beforeAll(async () => {
    gw = await startTestGateway()
    token = await gw.token('acme', 'admin')
    await gw.mongo.db.collection('users').insertOne({ _id: customerId, tenantId: 'acme', email: 'order@acme.example' })
  })
  afterAll(() => gw.stop())

  const insertOrder = () =>
    gw.mongo.db.collection('orders').insertOne({ tenantId: 'acme', customerId, status: 'pending', totalAmount: 7, items: [] })

  it('over HTTP', async () => {
    const response = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: QUERY }),
    })
    const body = (await response.json()) as { data: Record<string, Array<Record<string, unknown>>> }
    expect(keysOf(body.data)).toEqual(QUERY_KEYS)
    expect(keysOf(body.data.gatewayNodes[0])).toEqual(['subscriptions', 'id'])
  })

  it('over SSE: a query, and the events of a subscription', async () => {
    const headers = { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'x-graphql-yoga-csrf': '1' }
    const query = await fetch(`${gw.url}?query=${encodeURIComponent(QUERY)}`, { headers })
    const [result] = await readSSE(query, 1)
    expect(keysOf(result.data)).toEqual(QUERY_KEYS)

    const subscription = await fetch(`${gw.url}?query=${encodeURIComponent(SUBSCRIPTION)}`, { headers })
    const events = readSSE(subscription, 1)
    await expect.poll(() => streamSubscribers(gw.url, token), { timeout: 10_000 }).toBe(1)
    await insertOrder()
    const [event] = await events
    const changed = (event.data as Record<string, Record<string, unknown>>).orderChanged
    expect(keysOf(changed)).toEqual(EVENT_KEYS)
    expect(keysOf(changed.order)).toEqual(ORDER_KEYS)
    expect(keysOf((changed.order as Record<string, unknown>).customer)).toEqual(['email', 'id'])
  })

  it('over WebSocket: a query, and the events of a subscription', async () => {
    const client = wsClient(gw.wsUrl, token)
    try {
      const query = collect<Record<string, unknown>>(client, QUERY, {}, (data) => data)
      const [result] = await query.waitFor(1)
      expect(keysOf(result)).toEqual(QUERY_KEYS)

      // The SSE test's subscription has ended: the next one is this one.
      await expect.poll(() => streamSubscribers(gw.url, token), { timeout: 10_000 }).toBe(0)
      const subscription = collect<Record<string, unknown>>(client, SUBSCRIPTION)
      await expect.poll(() => streamSubscribers(gw.url, token), { timeout: 10_000 }).toBe(1)
      await insertOrder()
      const [changed] = await subscription.waitFor(1)
      expect(keysOf(changed)).toEqual(EVENT_KEYS)
      expect(keysOf(changed.order)).toEqual(ORDER_KEYS)
      subscription.dispose()
    } finally {
      await client.dispose()
    }
  })
})
