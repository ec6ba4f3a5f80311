import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpGraphQL, signToken, type GatewayProcess, spawnGatewayOverMongo } from '../fixtures/gateway.js'
import { type MongoTarget } from '../fixtures/mongo.js'
import { ackedSocket, closeSocket, expectServesWellBehaved, metric, rssBytes, type RawSocket } from './support.js'

const ORDERS = 'subscription($f: OrderChangeFilter) { orderChanged(filter: $f) { documentId } }'
const USERS = 'subscription { userProfileUpdated { documentId } }'
const SOCKETS = 4
const PER_SOCKET = 100
const MiB = 1024 * 1024
/** The gateway runs with a small heap: a leak of a few KiB per cycle would end the process well before 10,000. */
const HEAP_LIMIT_MIB = 128
/**
 * Heap growth allowed over 10,000 cycles, both measured after a full GC: a leak of 0.5 KiB per cycle (one retained
 * closure and its queue) exceeds it.
 */
const HEAP_GROWTH_MIB = 5
/** RSS is noisier (allocator pages are not all returned): this catches only gross leaks outside the JS heap. */
const RSS_GROWTH_MIB = 64
const GC_PRELOAD = new URL('../fixtures/gc-on-signal.mjs', import.meta.url).href

describe('subscribe/complete churn', () => {
  let mongo: MongoTarget
  let gw: GatewayProcess
  beforeAll(async () => {
    ;({ gw, mongo } = await spawnGatewayOverMongo({
      // Churn as fast as the gateway allows: the subscribe rate limit is not what is tested here.
      CHANGEGATE_SUBSCRIBE_RATE: '1000000',
      CHANGEGATE_SUBSCRIBE_BURST: '1000000',
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=${HEAP_LIMIT_MIB} --import ${GC_PRELOAD}`.trim(),
    }))
  })
  afterAll(async () => {
    await gw?.stop()
    await mongo?.stop()
  })

  const active = () => metric(gw, 'changegate_subscriptions_active')
  /** After a full GC in the gateway (SIGUSR2, see the preload) and a moment to settle. */
  const sample = async () => {
    process.kill(gw.child.pid!, 'SIGUSR2')
    await new Promise((resolve) => setTimeout(resolve, 500))
    return measure()
  }
  const measure = async () => ({
    subscriptionsActive: await active(),
    rssMiB: Math.round((rssBytes(gw.child.pid!) / MiB) * 10) / 10,
    heapUsedMiB: Math.round(((await metric(gw, 'changegate_nodejs_heap_size_used_bytes')) / MiB) * 10) / 10,
  })
  const streamSubscribers = async () => {
    const admin = await signToken({ tenant: 'churn', scope: 'admin' })
    const { body } = await httpGraphQL<{ streams: Array<{ subscribers: number }> }>(gw.url, admin, '{ streams { subscribers } }')
    return body.data!.streams.reduce((sum, s) => sum + s.subscribers, 0)
  }

  /**
   * One round: every socket starts 100 subscriptions with distinct filters (a tenth on users); a quarter are
   * completed at once, racing their own start; the rest once all are running. Returns the cycles done.
   */
  async function round(sockets: RawSocket[], n: number): Promise<number> {
    const ids = (s: number) => Array.from({ length: PER_SOCKET }, (_, k) => ({ id: `${n}-${s}-${k}`, k }))
    sockets.forEach((raw, s) => {
      for (const { id, k } of ids(s)) {
        const payload = k % 10 === 1 ? { query: USERS } : { query: ORDERS, variables: { f: { minTotal: n * 1000 + s * PER_SOCKET + k } } }
        raw.send({ id, type: 'subscribe', payload })
        if (k % 4 === 0) raw.send({ id, type: 'complete' })
      }
    })
    await expect.poll(active, { timeout: 30_000, interval: 20 }).toBe((SOCKETS * PER_SOCKET * 3) / 4)
    sockets.forEach((raw, s) => ids(s).forEach(({ id, k }) => k % 4 !== 0 && raw.send({ id, type: 'complete' })))
    await expect.poll(active, { timeout: 30_000, interval: 20 }).toBe(0)
    return SOCKETS * PER_SOCKET
  }

  it('10,000 cycles leave no subscription, stream subscriber, listener or memory behind', async () => {
    const token = await signToken({ tenant: 'churn' })
    const connections = await metric(gw, 'changegate_ws_connections')
    const sockets = await Promise.all(Array.from({ length: SOCKETS }, () => ackedSocket(gw.wsUrl, token)))
    for (let n = 0; n < 2; n++) await round(sockets, -1 - n)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const before = await sample()

    const started = Date.now()
    let cycles = 0
    for (let n = 0; cycles < 10_000; n++) cycles += await round(sockets, n)
    const elapsedMs = Date.now() - started
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const after = await sample()
    console.log(`churn: ${JSON.stringify({ cycles, elapsedMs, before, after, heapLimitMiB: HEAP_LIMIT_MIB })}`)

    expect(gw.child.exitCode).toBeNull()
    expect(await active()).toBe(0)
    expect(await streamSubscribers()).toBe(0)
    expect(await metric(gw, 'changegate_ws_connections')).toBe(connections + SOCKETS)
    expect(sockets.flatMap((s) => s.frames).filter((f) => f.type === 'error')).toEqual([])
    expect(gw.output.filter((line) => /MaxListenersExceeded|memory leak|heap out of memory/i.test(line))).toEqual([])
    expect(after.heapUsedMiB - before.heapUsedMiB).toBeLessThan(HEAP_GROWTH_MIB)
    expect(after.rssMiB - before.rssMiB).toBeLessThan(RSS_GROWTH_MIB)

    await Promise.all(sockets.map(closeSocket))
    await expect.poll(() => metric(gw, 'changegate_ws_connections')).toBe(connections)
    await expectServesWellBehaved(gw)
  })

  it('sockets that go away holding subscriptions release every one of them', async () => {
    const token = await signToken({ tenant: 'churn' })
    for (let wave = 0; wave < 5; wave++) {
      const sockets = await Promise.all(Array.from({ length: 10 }, () => ackedSocket(gw.wsUrl, token)))
      sockets.forEach((raw, s) => {
        for (let k = 0; k < 20; k++) raw.send({ id: `${k}`, type: 'subscribe', payload: { query: ORDERS, variables: { f: { minTotal: s * 20 + k } } } })
      })
      await expect.poll(active, { timeout: 30_000 }).toBe(200)
      // Half close politely, half vanish without a close frame.
      sockets.forEach((raw, s) => (s % 2 ? raw.socket.close(1000) : raw.socket.terminate()))
      await expect.poll(active, { timeout: 30_000 }).toBe(0)
    }
    expect(await streamSubscribers()).toBe(0)
    await expectServesWellBehaved(gw)
  })
})
