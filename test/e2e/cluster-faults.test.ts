/**
 * Infrastructure faults mid-burst, with every node up: Redis loses its data and comes back, Redis drops the nodes'
 * pub/sub connections, MongoDB's change streams fail as on a primary step-down. Every client ends up with exactly the committed sequence, as an oracle
 * change stream opened by the test records it, without reconnecting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clearStepDown, simulateStepDown } from '../fixtures/embedded-process.js'
import { TENANT, agreedOwner, startBurst, startCluster, startDeliveryRun, type Cluster, type DeliveryRun } from '../fixtures/cluster.js'
import { CLUSTER_MODELS, type ClusterModel } from '../fixtures/cluster-model.js'
import { connectRedis } from '../fixtures/redis.js'

const NODES = ['node-a', 'node-b', 'node-c'] as const

describe.each(CLUSTER_MODELS)('cluster under infrastructure faults: $name', (model: ClusterModel) => {
  let cluster: Cluster
  let run: DeliveryRun | undefined

  beforeAll(async () => {
    cluster = await startCluster({ nodes: NODES, model })
  })

  afterAll(async () => {
    await run?.stop()
    await clearStepDown(cluster.client).catch(() => undefined)
    await cluster?.stop()
  })

  it('Redis restart mid-burst (all keys lost): every client gets every event once, in order; one owner afterwards', async () => {
    run = await startDeliveryRun(cluster, { region: 'burst-redis', nodes: NODES })
    const before = await agreedOwner(cluster, NODES)

    const burst = startBurst(cluster.db, { tenant: TENANT, region: run.region, writers: 3, perWriter: 1000, durationMs: 6_000, model })
    await burst.whenCommitted(1000)
    await cluster.redis.restart()
    expect(burst.committed).toBeLessThan(burst.total)
    await burst.done
    await run.waitForDelivery(burst.total)

    expect(run.differences(), cluster.diagnostics()).toEqual(run.identical())
    expect(run.subscribers.flatMap((s) => s.current.errors)).toEqual([])
    const after = await agreedOwner(cluster, NODES)
    expect(after.epoch).toBeGreaterThan(before.epoch!)

    await run.stop()
    run = undefined
  })

  it('Redis drops every pub/sub connection mid-burst (CLIENT KILL TYPE pubsub, twice): messages missed while reconnecting are filled from MongoDB', async () => {
    run = await startDeliveryRun(cluster, { region: 'burst-pubsub-drop', nodes: NODES })
    const redis = connectRedis(cluster.redis.url)
    try {
      const burst = startBurst(cluster.db, { tenant: TENANT, region: run.region, writers: 3, perWriter: 1000, durationMs: 6_000, model })
      for (const at of [1000, 2000]) {
        await burst.whenCommitted(at)
        expect(Number(await redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub'))).toBeGreaterThanOrEqual(NODES.length)
      }
      await burst.done
      await run.waitForDelivery(burst.total)
    } finally {
      redis.disconnect()
    }

    expect(run.differences(), cluster.diagnostics()).toEqual(run.identical())
    expect(run.subscribers.flatMap((s) => s.current.errors)).toEqual([])

    await run.stop()
    run = undefined
  })

  it('MongoDB primary step-down mid-burst (failCommand: the owner\'s next 3 getMores fail with 11602 ResumableChangeStreamError): every event once, in order', async () => {
    run = await startDeliveryRun(cluster, { region: 'burst-stepdown', nodes: NODES })
    const { ownerNode } = await agreedOwner(cluster, NODES)

    const burst = startBurst(cluster.db, { tenant: TENANT, region: run.region, writers: 3, perWriter: 1000, durationMs: 4_000, model })
    await burst.whenCommitted(1000)
    await simulateStepDown(cluster.client, { appName: `changegate-${ownerNode}`, times: 3 })
    await burst.done
    await run.waitForDelivery(burst.total)
    // The owner's change stream did run into all three failures.
    expect(await clearStepDown(cluster.client)).toBe(3)

    expect(run.differences(), cluster.diagnostics()).toEqual(run.identical())
    expect(run.subscribers.flatMap((s) => s.current.errors)).toEqual([])
    const streams = await cluster.streamOn([ownerNode])
    expect(streams[ownerNode]?.state).toBe('RUNNING')

    await run.stop()
    run = undefined
  })
})
