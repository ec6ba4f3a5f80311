import { ObjectId } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { queryTyped, signToken, spawnGatewayOverMongo, type GatewayProcess } from '../fixtures/gateway.js'
import { ChangeCursorDocument } from '../fixtures/generated/graphql.js'
import { type MongoTarget } from '../fixtures/mongo.js'
import { ackedSocket, metric, rssBytes, type Frame, type RawSocket } from '../security/support.js'

/** The defaults this test relies on (it sets neither): see SECURITY.md, Limits. */
const SLOW_CONSUMER_TIMEOUT_MS = 30_000
const KEEP_ALIVE_MS = 15_000
const UNRESPONSIVE = { code: 4410, reason: 'Unresponsive' }
const MiB = 1024 * 1024
/** The gateway's heap is capped: holding what three stalled readers did not read (3 × ~45 MB) would exceed it. */
const HEAP_LIMIT_MIB = 256

const QUERY = 'subscription($after: Cursor) { orderChanged(after: $after) { cursor documentId order { items { productId quantity unitPrice } } } }'
/** ~30 KB per event, as in the report this test answers. */
const ITEMS = Array.from({ length: 100 }, (_, n) => ({ productId: `sku-${n}-${'x'.repeat(270)}`, quantity: n + 1, unitPrice: 9.99 }))
const TOTAL = 1500

interface Event {
  cursor: string
  documentId: string
}
type Payload = { data?: { orderChanged?: Event }; errors?: Array<{ message: string; extensions?: { code?: string } }> }

const nextsOf = (raw: RawSocket, id: string) => raw.frames.filter((f) => f.id === id && f.type === 'next').map((f) => f.payload as Payload)
const eventsOf = (raw: RawSocket, id: string) => nextsOf(raw, id).flatMap((p) => (p.data?.orderChanged ? [p.data.orderChanged] : []))
const codesOf = (raw: RawSocket, id: string) => nextsOf(raw, id).flatMap((p) => (p.errors ?? []).map((e) => e.extensions?.code))
const socketOf = (raw: RawSocket) => (raw.socket as unknown as { _socket: { pause(): void; resume(): void; localPort: number } })._socket
const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())))

describe('a client that stops reading, with the default timeouts', () => {
  let mongo: MongoTarget
  let gw: GatewayProcess
  beforeAll(async () => {
    ;({ gw, mongo } = await spawnGatewayOverMongo({
      CHANGEGATE_LOG_LEVEL: 'info',
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=${HEAP_LIMIT_MIB}`.trim(),
    }))
  })
  afterAll(async () => {
    await gw?.stop()
    await mongo?.stop()
  })

  it('ends its subscription with SLOW_CONSUMER before its connection is judged dead; resumes exactly from its last cursor; a dead one is closed with 4410', async () => {
    const token = await signToken({ tenant: 'acme' })
    const after = (await queryTyped(gw.url, token, ChangeCursorDocument)).body.data!.changeCursor
    const subscribe = (raw: RawSocket, id: string, cursor: string) => raw.send({ id, type: 'subscribe', payload: { query: QUERY, variables: { after: cursor } } })

    // resumer: pauses past the slow-consumer timeout, then reads again. dead: never reads again. late: reads again
    // only once the gateway has judged it dead.
    const resumer = await ackedSocket(gw.wsUrl, token, { localAddress: '127.0.0.2' })
    const dead = await ackedSocket(gw.wsUrl, token, { localAddress: '127.0.0.3' })
    const late = await ackedSocket(gw.wsUrl, token, { localAddress: '127.0.0.4' })
    const readers = [resumer, dead, late]
    const connections = await metric(gw, 'changegate_ws_connections')
    for (const raw of readers) subscribe(raw, 's1', after)
    await new Promise((r) => setTimeout(r, 300))
    const before = { rss: rssBytes(gw.child.pid!), heap: await metric(gw, 'changegate_nodejs_heap_size_used_bytes') }
    const pausedAt = Date.now()
    for (const raw of readers) socketOf(raw).pause()

    const inserted: string[] = []
    const orders = mongo.db.collection('orders')
    for (let n = 0; n < TOTAL; n += 50) {
      const docs = Array.from({ length: 50 }, () => ({ _id: new ObjectId(), tenantId: 'acme', customerId: new ObjectId(), status: 'pending', totalAmount: 1, items: ITEMS }))
      await orders.insertMany(docs)
      inserted.push(...docs.map((d) => d._id.toHexString()))
    }
    const insertedInMs = Date.now() - pausedAt
    let peakRss = rssBytes(gw.child.pid!)
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssBytes(gw.child.pid!))), 500)

    // Past the slow-consumer timeout (checked every second), short of the earliest moment the keep-alive may judge
    // the connection dead (slow-consumer timeout + one ping interval after the first unanswered ping).
    await sleepUntil(pausedAt + SLOW_CONSUMER_TIMEOUT_MS + 10_000)
    expect(Date.now() - pausedAt).toBeLessThan(SLOW_CONSUMER_TIMEOUT_MS + KEEP_ALIVE_MS)
    socketOf(resumer).resume()
    await resumer.frame((f) => f.id === 's1' && (f.type === 'complete' || f.type === 'error'), 30_000)
    expect(codesOf(resumer, 's1')).toEqual(['SLOW_CONSUMER'])
    expect(nextsOf(resumer, 's1').at(-1)?.errors?.[0]?.extensions?.code).toBe('SLOW_CONSUMER')
    // Subscriptions the server ended are released at once, read or not: the two stalled ones passed the
    // slow-consumer timeout too, so none is counted until the resumer subscribes again.
    await expect.poll(() => metric(gw, 'changegate_subscriptions_active')).toBe(0)
    const first = eventsOf(resumer, 's1')
    expect(first.length).toBeGreaterThan(0)
    expect(first.length).toBeLessThan(TOTAL)
    // Same connection, resubscribed with the last cursor received: the rest, in order, once each.
    subscribe(resumer, 's2', first.at(-1)!.cursor)
    const deadline = Date.now() + 60_000
    while (first.length + eventsOf(resumer, 's2').length < TOTAL && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    expect([...first, ...eventsOf(resumer, 's2')].map((e) => e.documentId)).toEqual(inserted)
    expect(codesOf(resumer, 's2')).toEqual([])

    // The two that did not read: judged dead, closed with 4410 (logged with their port).
    const judgedAt = (raw: RawSocket) => {
      const line = gw.output.find((l) => l.includes('websocket unresponsive') && l.includes(`"remotePort":${socketOf(raw).localPort}`))
      return line ? Date.parse((JSON.parse(line) as { time: string }).time) : undefined
    }
    while (!(judgedAt(late) && judgedAt(dead)) && Date.now() - pausedAt < SLOW_CONSUMER_TIMEOUT_MS + 4 * KEEP_ALIVE_MS) {
      await new Promise((r) => setTimeout(r, 100))
    }
    expect({ late: judgedAt(late) !== undefined, dead: judgedAt(dead) !== undefined }).toEqual({ late: true, dead: true })
    const judgedAfterMs = Math.min(judgedAt(late)!, judgedAt(dead)!) - pausedAt
    expect(judgedAfterMs).toBeGreaterThanOrEqual(SLOW_CONSUMER_TIMEOUT_MS + KEEP_ALIVE_MS)
    expect(resumer.socket.readyState).toBe(resumer.socket.OPEN)

    // One that reads after that finds, after what it had not read, SLOW_CONSUMER queued for it, then the close.
    socketOf(late).resume()
    expect(await late.closed).toEqual(UNRESPONSIVE)
    const lateEvents = eventsOf(late, 's1').map((e) => e.documentId)
    expect(lateEvents).toEqual(inserted.slice(0, lateEvents.length))
    expect(codesOf(late, 's1')).toEqual(['SLOW_CONSUMER'])
    expect(late.frames.filter((f: Frame) => f.id === 's1').at(-1)?.type).toBe('complete')

    // One that never reads again is gone from the gateway (terminated by the next ping) and leaves nothing behind.
    const gone = Date.now() + 2 * KEEP_ALIVE_MS
    while ((await metric(gw, 'changegate_ws_connections')) > connections - 2 && Date.now() < gone) await new Promise((r) => setTimeout(r, 500))
    clearInterval(sampler)
    expect(await metric(gw, 'changegate_ws_connections')).toBe(connections - 2)
    expect(await metric(gw, 'changegate_subscriptions_active')).toBe(1)
    expect(await metric(gw, 'changegate_errors_total', 'code="INTERNAL_SERVER_ERROR"')).toBe(0)
    expect(await metric(gw, 'changegate_errors_total', 'code="SLOW_CONSUMER"')).toBeGreaterThanOrEqual(2)
    const afterAll = { rss: rssBytes(gw.child.pid!), heap: await metric(gw, 'changegate_nodejs_heap_size_used_bytes') }
    const mib = (n: number) => Math.round((n / MiB) * 10) / 10
    console.log(
      `slow consumer (defaults): ${JSON.stringify({ insertedInMs, judgedAfterMs, resumerFirst: first.length, lateRead: lateEvents.length, rssMiB: { before: mib(before.rss), peak: mib(peakRss), after: mib(afterAll.rss) }, heapUsedMiB: { before: mib(before.heap), after: mib(afterAll.heap) } })}`,
    )
    expect(gw.child.exitCode).toBeNull()
    expect(gw.output.filter((line) => /heap out of memory|MaxListenersExceeded/i.test(line))).toEqual([])
    expect(afterAll.heap).toBeLessThan(HEAP_LIMIT_MIB * MiB)
    expect(peakRss - before.rss).toBeLessThan(HEAP_LIMIT_MIB * MiB)
    resumer.socket.close(1000)
    dead.socket.terminate()
  }, 240_000)
})
