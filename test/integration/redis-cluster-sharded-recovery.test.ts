/**
 * Sharded pub/sub subscriptions that recover: a node subscribed to a stream's channel keeps receiving its messages
 * after the primary serving the channel's slot is SIGKILLed and its replica promoted, after the slot migrates to
 * another primary (Redis drops the subscription with an `sunsubscribe` push), and after every Redis process of the
 * cluster restarted. And a subscriber whose subscription is dead without its client noticing is found out by a
 * probe and replaced.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { parseRedisUrl } from '../../src/config/redis-url.js'
import { createLeaseManager, type Lease } from '../../src/cluster/lease-manager.js'
import { createRedisClients, type RedisClients } from '../../src/cluster/redis-clients.js'
import { createRedisFanOut, type Envelope } from '../../src/cluster/redis-fanout.js'
import { redisKeys } from '../../src/cluster/redis-scripts.js'
import { ShardedPubSub } from '../../src/cluster/sharded-pubsub.js'
import { connectRedis, startRedis, startRedisCluster, type RedisClusterServer, type RedisServer } from '../fixtures/redis.js'

const keys = redisKeys()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const position = (t: number) => ({ kind: 'time', time: { t, i: 1 } }) as const
const cleanups: (() => unknown)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined)
})

async function until(condition: () => boolean, timeoutMs: number, what: () => string) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`)
    await sleep(25)
  }
}

describe('sharded pub/sub on a Redis Cluster through failures', () => {
  let server: RedisClusterServer
  let streamNumber = 0

  beforeAll(async () => {
    server = await startRedisCluster()
  }, 60_000)

  afterAll(async () => {
    await server?.stop()
  })

  function connect(connectionName: string): RedisClients {
    const clients = createRedisClients(parseRedisUrl(server.url), {
      connectionName,
      sharded: true,
      onNewSubscriber: (renewed) => renewed.on('error', () => undefined),
    })
    clients.commands.on('error', () => undefined)
    clients.subscriber.on('error', () => undefined)
    cleanups.push(() => clients.disconnect())
    return clients
  }

  /**
   * An owner node publishing a position every 20 ms (taking the lease again when a failover lost it) and a second
   * node; both subscribed to the stream's channel, as every gateway with clients of the stream is.
   */
  async function startTraffic() {
    const key = `changegate.sharded_${++streamNumber}_${Date.now().toString(36)}`
    const nodes = ['node-a', 'node-b'].map((nodeId) => {
      const clients = connect(nodeId)
      const fanout = createRedisFanOut({
        publisher: clients.commands,
        subscriber: clients.subscriber,
        sharded: true,
        renewSubscriber: () => clients.renewSubscriber(),
        silenceMs: 1000,
      })
      cleanups.push(() => fanout.stop())
      return { nodeId, clients, fanout, received: [] as Envelope[] }
    })
    for (const node of nodes) cleanups.push(await node.fanout.subscribe(key, (_message, envelope) => node.received.push(envelope)))
    const [owner] = nodes
    const leases = createLeaseManager({ redis: owner.clients.commands, nodeId: owner.nodeId, ttlMs: 2000 })
    cleanups.push(() => leases.stop())
    let lease: Lease | undefined
    let highestEpoch = 0
    let published = 0
    let stopped = false
    const publishing = (async () => {
      while (!stopped) {
        try {
          if (!lease?.isHeld) lease = await leases.tryAcquire(key, highestEpoch)
          if (lease) {
            highestEpoch = Math.max(highestEpoch, lease.epoch)
            const result = await owner.fanout.publish(lease, { kind: 'position', position: position(published + 1) })
            if (result === 'fenced') lease = undefined
            else published++
          }
        } catch {
          // Redis unreachable for this slot: try again.
        }
        await sleep(20)
      }
    })()
    cleanups.push(async () => {
      stopped = true
      await publishing
    })
    const counts = () => nodes.map((node) => node.received.length)
    /** Waits until every node received `count` more messages than it had in `from`. */
    const receivedMore = (from: number[], count: number, timeoutMs = 20_000) =>
      until(
        () => nodes.every((node, n) => node.received.length >= from[n] + count),
        timeoutMs,
        () => `received ${counts().join('/')} after ${from.join('/')}, ${published} published`,
      )
    await receivedMore([0, 0], 10)
    return { key, nodes, counts, receivedMore, published: () => published }
  }

  /** Within an epoch, sequence numbers only go up: nothing duplicated, nothing reordered. */
  function expectOrdered(received: readonly Envelope[]) {
    for (let n = 1; n < received.length; n++) {
      const [before, after] = [received[n - 1], received[n]]
      if (before.epoch === after.epoch) expect(after.seq).toBeGreaterThan(before.seq)
    }
  }

  it('keeps receiving after the primary serving the channel is SIGKILLed and its replica promoted', async () => {
    const traffic = await startTraffic()
    const primary = await server.primaryFor(keys.channel(traffic.key))
    await server.kill(primary)
    expect(await server.waitForFailover(keys.channel(traffic.key), primary)).not.toBe(primary)
    await traffic.receivedMore(traffic.counts(), 50)
    for (const node of traffic.nodes) expectOrdered(node.received)
    await server.revive(primary)
    await server.waitHealthy()
  }, 60_000)

  it('keeps receiving after the channel\'s slot migrates to another primary', async () => {
    const traffic = await startTraffic()
    const from = await server.primaryFor(keys.channel(traffic.key))
    const to = (await server.primaries()).find((port) => port !== from)!
    await server.migrateSlot(keys.channel(traffic.key), to)
    expect(await server.primaryFor(keys.channel(traffic.key))).toBe(to)
    await traffic.receivedMore(traffic.counts(), 50)
    for (const node of traffic.nodes) expectOrdered(node.received)
  }, 60_000)

  it('keeps receiving after every Redis process of the cluster restarted', async () => {
    const traffic = await startTraffic()
    await server.restartAll()
    await traffic.receivedMore(traffic.counts(), 50)
    for (const node of traffic.nodes) expectOrdered(node.received)
  }, 60_000)
})

describe('a sharded subscription that is dead without the client noticing', () => {
  let right: RedisServer
  let wrong: RedisServer

  beforeAll(async () => {
    ;[right, wrong] = await Promise.all([startRedis(), startRedis()])
  })

  afterAll(async () => {
    await Promise.all([right?.stop(), wrong?.stop()])
  })

  it('is probed, subscribed again, then served by a new subscriber connection', async () => {
    const publisher = connectRedis(right.url)
    // Subscribed, but on a server nothing is published to: as a connection to a primary that no longer serves the
    // channel's slot, or a subscription the client believes it has.
    const stale = connectRedis(wrong.url)
    const renewed: ReturnType<typeof connectRedis>[] = []
    let resubscribed = 0
    const pubsub = new ShardedPubSub({
      publisher,
      subscriber: stale,
      deserializer: (message) => message.toString('utf8'),
      renewSubscriber: (old) => {
        old.disconnect()
        const fresh = connectRedis(right.url)
        renewed.push(fresh)
        return fresh
      },
      onResubscribed: () => resubscribed++,
      silenceMs: 300,
      probeTimeoutMs: 300,
    })
    cleanups.push(() => {
      pubsub.close()
      for (const client of [publisher, stale, ...renewed]) client.disconnect()
    })
    const received: unknown[] = []
    await pubsub.subscribe('{orders}:events', (payload) => received.push(payload))
    let sent = 0
    const timer = setInterval(() => void publisher.spublish('{orders}:events', String(++sent)).catch(() => undefined), 20)
    cleanups.push(() => clearInterval(timer))

    await until(() => received.length >= 20, 10_000, () => `received ${received.length} of ${sent}`)
    expect(renewed).toHaveLength(1)
    expect(resubscribed).toBe(1)
    expect(pubsub.currentSubscriber()).toBe(renewed[0])
    // Only published messages reach handlers, in order; probes never do.
    const numbers = received.map(Number)
    expect(numbers.every((n, i) => Number.isInteger(n) && (i === 0 || n === numbers[i - 1] + 1))).toBe(true)
  })
})
