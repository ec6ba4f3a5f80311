import { ObjectId, MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { collect, queryTyped, signToken, spawnGateway, wsClient, type GatewayProcess, spawnGatewayOverMongo } from '../fixtures/gateway.js'
import { ChildStartError } from '../fixtures/child-process.js'
import { ChangeCursorDocument } from '../fixtures/generated/graphql.js'
import { type MongoTarget } from '../fixtures/mongo.js'

describe('newcomer path: embedded default', () => {
  let gw: GatewayProcess
  const embeddedUri = () => gw.output.map((l) => /MongoDB: embedded \((mongodb:\/\/[^)]+)\)/.exec(l)?.[1]).find(Boolean)!

  /** Besides the demo traffic, writes an acme order every 300 ms until stopped, so an event is sure to come. */
  function keepWriting(uri: string): () => void {
    const client = new MongoClient(uri)
    const orders = client.db('changegate').collection('orders')
    const timer = setInterval(() => {
      void orders
        .insertOne({ tenantId: 'acme', customerId: new ObjectId(), status: 'pending', totalAmount: 1, items: [] })
        .catch(() => undefined)
    }, 300)
    return () => {
      clearInterval(timer)
      void client.close()
    }
  }
  beforeAll(async () => {
    // No MONGODB_URI and no secret: embedded MongoDB, demo data and traffic, printed dev tokens; started as
    // `npm start` starts it (the sources compiled on the spot).
    gw = await spawnGateway({ MONGODB_URI: '', CHANGEGATE_JWT_SECRET: '', CHANGEGATE_DEMO: '1' }, undefined, { from: 'start' })
  })
  afterAll(async () => {
    await gw?.stop()
  })

  it('prints the GraphiQL URL and dev tokens that work over WebSocket and SSE', async () => {
    expect(gw.output.join('\n')).toMatch(/MongoDB: embedded/)
    const token = gw.output.map((l) => /^\s+acme: (\S+)$/.exec(l)?.[1]).find(Boolean)
    expect(token).toBeTruthy()
    const ready = await fetch(gw.url.replace('/graphql', '/readyz'))
    expect(ready.status).toBe(200)
    const page = await fetch(gw.url, { headers: { accept: 'text/html' } })
    expect(await page.text()).toMatch(/graphiql/i)

    const client = wsClient(gw.wsUrl, token!)
    const live = collect<{ operationType: string; order: { tenantId: string } | null; orderBefore: { tenantId: string } | null }>(
      client,
      'subscription { orderChanged { operationType order { tenantId } orderBefore { tenantId } } }',
    )
    const stopWriting = keepWriting(embeddedUri())
    // Demo traffic may deliver deletes (no `order`) first: read until an event carries the order it is about.
    const withOrder = async () => {
      for (let n = 1; ; n++) if ((await live.waitFor(n, 20_000)).some((e) => e.order)) return live.events
    }
    const events = await withOrder().finally(stopWriting)
    expect(events.some((e) => e.order?.tenantId === 'acme')).toBe(true)
    // Whatever image an event carries belongs to the subscriber's tenant.
    const images = events.flatMap((e) => [e.order, e.orderBefore]).filter((image) => image !== null)
    expect(images.map((image) => image.tenantId)).toEqual(images.map(() => 'acme'))
    live.dispose()
    await client.dispose()

    const sse = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'subscription { orderChanged { documentId } }' }),
    })
    expect(sse.status).toBe(200)
    const stopWritingAgain = keepWriting(embeddedUri())
    const reader = sse.body!.getReader()
    let text = ''
    const deadline = Date.now() + 20_000
    while (!text.includes('"documentId"') && Date.now() < deadline) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
    await reader.cancel()
    stopWritingAgain()
    expect(text).toMatch(/event: next[\s\S]*"documentId":"[0-9a-f]{24}"/)
  })

  it('stops gracefully on SIGTERM with exit code 0', async () => {
    expect(await gw.stop('SIGTERM')).toBe(0)
  })
})

describe('slow consumers', () => {
  let mongo: MongoTarget
  let gw: GatewayProcess
  beforeAll(async () => {
    ;({ gw, mongo } = await spawnGatewayOverMongo({
      CHANGEGATE_SUBSCRIPTION_BUFFER: '64',
      CHANGEGATE_SLOW_CONSUMER_TIMEOUT_MS: '2000',
    }))
  })
  afterAll(async () => {
    await gw?.stop()
    await mongo?.stop()
  })

  it('a client that stops reading is ended with SLOW_CONSUMER; a reading client gets every event of a burst far beyond its buffer', async () => {
    const token = await signToken({ tenant: 'acme' })
    const after = (await queryTyped(gw.url, token, ChangeCursorDocument)).body.data!.changeCursor
    const query = 'subscription($after: Cursor) { orderChanged(after: $after) { cursor documentId order { items { productId quantity unitPrice } } } }'

    // A raw graphql-ws client whose socket stops reading after the subscription is sent.
    const slow = new WebSocket(gw.wsUrl, 'graphql-transport-ws')
    const frames: Array<{
      type: string
      payload?: { data?: { orderChanged?: { documentId: string } }; errors?: Array<{ extensions?: { code?: string } }> }
    }> = []
    slow.on('message', (data) => frames.push(JSON.parse(String(data))))
    await new Promise((resolve) => slow.once('open', resolve))
    slow.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }))
    await new Promise((resolve) => slow.once('message', resolve))
    slow.send(JSON.stringify({ id: 'slow', type: 'subscribe', payload: { query, variables: { after } } }))
    await new Promise((r) => setTimeout(r, 200))
    ;(slow as unknown as { _socket: { pause(): void } })._socket.pause()

    const healthyClient = wsClient(gw.wsUrl, token, { lazy: false })
    await new Promise((resolve) => healthyClient.on('connected', resolve))
    const healthy = collect<{ documentId: string }>(healthyClient, query, { after })
    const items = Array.from({ length: 40 }, (_, n) => ({ productId: `sku-${n}-${'x'.repeat(240)}`, quantity: n + 1, unitPrice: 9.99 }))
    const orders = mongo.db.collection('orders')
    const total = 3000
    const inserted: string[] = []
    for (let n = 0; n < total; n += 100) {
      const docs = Array.from({ length: 100 }, () => ({ _id: new ObjectId(), tenantId: 'acme', customerId: new ObjectId(), status: 'pending', totalAmount: 1, items }))
      await orders.insertMany(docs)
      inserted.push(...docs.map((d) => d._id.toHexString()))
    }
    // Long enough for the stalled subscription to be ended (timeout 2 s), well short of the 30 s after which the
    // keep-alive (two unanswered pings 15 s apart, with this timeout) would judge the peer dead.
    await new Promise((r) => setTimeout(r, 6000))
    ;(slow as unknown as { _socket: { resume(): void } })._socket.resume()
    const deadline = Date.now() + 30_000
    while (!frames.some((f) => f.type === 'complete' || f.type === 'error') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100))
    }

    await healthy.waitFor(total, 60_000)
    // Every event, in commit order, once each.
    expect(healthy.events.map((e) => e.documentId)).toEqual(inserted)
    const ready = await fetch(gw.url.replace('/graphql', '/readyz'))
    expect(ready.status).toBe(200)

    const nexts = frames.filter((f) => f.type === 'next')
    const last = nexts[nexts.length - 1]
    expect(last.payload?.errors?.[0]?.extensions?.code).toBe('SLOW_CONSUMER')
    expect(nexts.length).toBeLessThan(total)
    // What the slow client did read came in order, without gaps or duplicates, before the error.
    const slowIds = nexts.slice(0, -1).map((f) => f.payload?.data?.orderChanged?.documentId)
    expect(slowIds).toEqual(inserted.slice(0, slowIds.length))
    slow.close()
  })
})

describe('no client', () => {
  it('fails at start with one clear line when configuration is invalid', async () => {
    const error = await spawnGateway({ PORT: 'not-a-port' }, 15_000).then(
      () => undefined,
      (e: Error) => e,
    )
    expect(error?.message).toMatch(/PORT/)
    expect(error?.message).toMatch(/exited with 2/)
  })

  it('leaves no process behind when the gateway does not start in time', async () => {
    // Far less than the process needs to load its TypeScript, so it is still starting when the wait ends.
    const error = await spawnGateway({ MONGODB_URI: '' }, 200).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(ChildStartError)
    const { child, message } = error as ChildStartError
    expect(message).toMatch(/did not start in 200 ms/)
    expect(child.exitCode !== null || child.signalCode !== null).toBe(true)
    // No such process any more (ESRCH): it exited and was reaped.
    expect(() => process.kill(child.pid!, 0)).toThrow()
  })
})

