/**
 * Three gateway nodes over a Redis Cluster (3 primaries, 3 replicas) and one MongoDB, through Redis' own failures
 * mid-burst: the primary serving the stream's slot SIGKILLed (its replica promoted), that together with the
 * stream owner's gateway, the slot migrated to another primary, and every Redis process restarted. Every client
 * ends up with exactly the committed sequence, as an oracle change stream opened by the test records it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisKeys } from '../../src/cluster/redis-scripts.js'
import {
  TENANT,
  agreedOwner,
  startBurst,
  startCluster,
  startDeliveryRun,
  waitUntil,
  type Cluster,
  type DeliveryRun,
} from '../fixtures/cluster.js'
import { startRedisCluster, type RedisClusterServer } from '../fixtures/redis.js'

const NODES = ['node-a', 'node-b', 'node-c'] as const

describe.each<{ pubsub: string; env: Record<string, string> }>([
  { pubsub: 'classic pub/sub', env: {} },
  { pubsub: 'sharded pub/sub', env: { CHANGEGATE_REDIS_SHARDED_PUBSUB: '1' } },
])('gateways over a Redis Cluster, $pubsub', ({ env }) => {
  let cluster: Cluster<RedisClusterServer>
  let run: DeliveryRun | undefined
  /** The key whose slot holds every key of the orders stream. */
  let leaseKey: string

  beforeAll(async () => {
    cluster = await startCluster({ nodes: NODES, env, redis: startRedisCluster })
    leaseKey = redisKeys().lease(cluster.ordersKey)
  })

  afterAll(async () => {
    await run?.stop()
    await cluster?.stop()
  })

  /** Runs a burst on a fresh region, calls `fault` once `at` events are committed, and checks every subscriber. */
  async function throughFault(region: string, at: number, fault: () => Promise<void>) {
    await cluster.ensureNodes(NODES)
    run = await startDeliveryRun(cluster, { region, nodes: NODES })
    const burst = startBurst(cluster.db, { tenant: TENANT, region: run.region, writers: 3, perWriter: 600, durationMs: 4_000 })
    await burst.whenCommitted(at)
    await fault()
    expect(burst.committed).toBeLessThan(burst.total)
    await burst.done
    await run.waitForDelivery(burst.total)
    expect(run.differences(), cluster.diagnostics()).toEqual(run.identical())
    expect(run.subscribers.flatMap((s) => s.current.errors)).toEqual([])
    await run.stop()
    run = undefined
  }

  it('the primary serving the stream is SIGKILLed mid-burst and its replica promoted: every event once, in order', async () => {
    const primary = await cluster.redis.primaryFor(leaseKey)
    await throughFault('rc-primary-kill', 500, async () => {
      await cluster.redis.kill(primary)
      expect(await cluster.redis.waitForFailover(leaseKey, primary)).not.toBe(primary)
    })
    await cluster.redis.revive(primary)
    await cluster.redis.waitHealthy()
  })

  it('the owner gateway and the stream\'s Redis primary die together: clients of the dead node continue elsewhere with their cursor', async () => {
    await cluster.ensureNodes(NODES)
    run = await startDeliveryRun(cluster, { region: 'rc-owner-and-primary', nodes: NODES })
    const before = await agreedOwner(cluster, NODES)
    const survivors = NODES.filter((id) => id !== before.ownerNode)
    const primary = await cluster.redis.primaryFor(leaseKey)
    const burst = startBurst(cluster.db, { tenant: TENANT, region: run.region, writers: 3, perWriter: 600, durationMs: 4_000 })
    await burst.whenCommitted(500)
    await Promise.all([cluster.kill(before.ownerNode), cluster.redis.kill(primary)])

    const orphans = run.subscribers.filter((s) => s.current.nodeId === before.ownerNode)
    await Promise.all(
      orphans.map(async (subscriber, i) => {
        await waitUntil(() => subscriber.current.ended, 10_000, () => `${subscriber.label} was not disconnected`)
        await subscriber.reconnect(cluster.node(survivors[i % survivors.length]))
      }),
    )
    await cluster.redis.waitForFailover(leaseKey, primary)
    await burst.done
    await run.waitForDelivery(burst.total)

    expect(run.differences(), cluster.diagnostics()).toEqual(run.identical())
    expect(run.subscribers.flatMap((s) => s.feeds.at(-1)!.errors)).toEqual([])
    const after = await agreedOwner(cluster, survivors)
    expect(survivors).toContain(after.ownerNode)
    expect(after.epoch).toBeGreaterThan(before.epoch!)
    await run.stop()
    run = undefined

    await cluster.redis.revive(primary)
    await cluster.redis.waitHealthy()
  })

  it('the stream\'s slot migrates to another primary mid-burst: every event once, in order', async () => {
    const from = await cluster.redis.primaryFor(leaseKey)
    const to = (await cluster.redis.primaries()).find((port) => port !== from)!
    await throughFault('rc-slot-migration', 500, async () => {
      await cluster.redis.migrateSlot(leaseKey, to)
      expect(await cluster.redis.primaryFor(leaseKey)).toBe(to)
    })
  })

  it('every Redis process is killed and restarted from its data directory mid-burst: every event once, in order', async () => {
    await throughFault('rc-full-restart', 500, () => cluster.redis.restartAll())
    await agreedOwner(cluster, NODES)
  })
})
