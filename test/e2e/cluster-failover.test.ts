/**
 * Losing a stream's owner mid-burst: killed (SIGKILL) or frozen past its lease (SIGSTOP). Every client ends up with
 * exactly the committed sequence, as an oracle change stream opened by the test records it; for the demo and for a
 * configuration that is not the demo (test/fixtures/configs/support-desk.config.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CLUSTER_MODELS,
  LEASE_TTL_MS,
  TENANT,
  agreedOwner,
  sleep,
  startBurst,
  startCluster,
  startDeliveryRun,
  waitUntil,
  type Cluster,
  type ClusterModel,
  type DeliveryRun,
} from '../fixtures/cluster.js'

const NODES = ['node-a', 'node-b', 'node-c'] as const

describe.each(CLUSTER_MODELS)('cluster failover: $name', (model: ClusterModel) => {
  let cluster: Cluster
  let run: DeliveryRun | undefined

  beforeAll(async () => {
    cluster = await startCluster({ nodes: NODES, model })
  })

  afterAll(async () => {
    await run?.stop()
    await cluster?.stop()
  })

  it('owner SIGKILL mid-burst: survivors see every event once, clients of the dead node continue elsewhere with their cursor; takeover within TTL + 3 s', async () => {
    await cluster.ensureNodes(NODES)
    run = await startDeliveryRun(cluster, { region: 'burst-kill', nodes: NODES })
    const before = await agreedOwner(cluster, NODES)
    const survivors = NODES.filter((id) => id !== before.ownerNode)

    const burst = startBurst(cluster.db, { tenant: TENANT, region: run.region, writers: 3, perWriter: 1000, durationMs: 6_000, model })
    await burst.whenCommitted(1000)
    const killedAt = Date.now()
    await cluster.kill(before.ownerNode)

    // Clients of the dead node reconnect to a survivor as soon as their socket closes, with their last cursor.
    const orphans = run.subscribers.filter((s) => s.current.nodeId === before.ownerNode)
    await Promise.all(
      orphans.map(async (subscriber, i) => {
        await waitUntil(() => subscriber.current.ended, 10_000, () => `${subscriber.label} was not disconnected`)
        await subscriber.reconnect(cluster.node(survivors[i % survivors.length]))
      }),
    )
    await burst.done
    await run.waitForDelivery(burst.total)

    expect(run.differences(), cluster.diagnostics()).toEqual(run.identical())
    const stayed = run.subscribers.filter((s) => !orphans.includes(s))
    expect(Object.fromEntries(stayed.map((s) => [s.label, s.feeds.length]))).toEqual(Object.fromEntries(stayed.map((s) => [s.label, 1])))
    expect(stayed.flatMap((s) => s.current.errors)).toEqual([])
    expect(orphans.flatMap((s) => s.feeds.slice(1).flatMap((f) => f.errors))).toEqual([])

    // Takeover: from the kill to the first event committed after it reaching a client of a surviving node.
    const firstAfterKill = Math.min(
      ...stayed.flatMap((s) => s.current.received.filter((r) => (burst.sentAt.get(r.documentId) ?? 0) > killedAt).map((r) => r.at)),
    )
    const takeoverMs = firstAfterKill - killedAt
    expect(takeoverMs, `takeover took ${takeoverMs} ms`).toBeLessThanOrEqual(LEASE_TTL_MS + 3_000)

    const after = await agreedOwner(cluster, survivors)
    expect(survivors).toContain(after.ownerNode)
    expect(after.epoch).toBeGreaterThan(before.epoch!)

    await run.stop()
    run = undefined
  })

  it('owner SIGSTOP past the lease TTL, then SIGCONT: every event once everywhere, one owner with a higher epoch', async () => {
    await cluster.ensureNodes(NODES)
    run = await startDeliveryRun(cluster, { region: 'burst-pause', nodes: NODES })
    const before = await agreedOwner(cluster, NODES)

    const burst = startBurst(cluster.db, { tenant: TENANT, region: run.region, writers: 3, perWriter: 1000, durationMs: 12_000, model })
    await burst.whenCommitted(600)
    cluster.pause(before.ownerNode)
    await sleep(LEASE_TTL_MS + 2_000)
    cluster.resume(before.ownerNode)
    // The burst goes on after the old owner is back, so a stale publish would show as a duplicate.
    expect(burst.committed).toBeLessThan(burst.total)
    await burst.done
    await run.waitForDelivery(burst.total)

    expect(run.differences(), cluster.diagnostics()).toEqual(run.identical())
    expect(run.subscribers.flatMap((s) => s.current.errors)).toEqual([])
    expect(run.subscribers.every((s) => s.feeds.length === 1)).toBe(true)

    const after = await agreedOwner(cluster, NODES)
    expect(after.ownerNode).not.toBe(before.ownerNode)
    expect(after.epoch).toBeGreaterThan(before.epoch!)
    let owners: Record<string, string[]> = {}
    await waitUntil(
      async () => {
        const listed = await cluster.gatewayNodes(NODES[0])
        owners = Object.fromEntries(listed.map((n) => [n.id, n.ownedStreams.filter((key) => key === cluster.streamKey)]))
        return Object.values(owners).filter((keys) => keys.length > 0).length === 1 && owners[after.ownerNode]?.length === 1
      },
      10_000,
      () => `gatewayNodes does not list ${cluster.streamKey} on ${after.ownerNode} only: ${JSON.stringify(owners)}`,
      250,
    )

    await run.stop()
    run = undefined
  })
})
