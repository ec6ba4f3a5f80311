/**
 * Nodes coming and going around a shared stream: two nodes racing for a new stream's lease, the stream stopping
 * once nobody needs it, and a node joining in the middle of a burst with a client resuming from an older cursor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  TENANT,
  agreedOwner,
  startBurst,
  startCluster,
  startDeliveryRun,
  subscribe,
  waitUntil,
  type Cluster,
  type DeliveryRun,
} from '../fixtures/cluster.js'

const PAIR = ['node-a', 'node-b'] as const
const LINGER_MS = 3_000
let cluster: Cluster
let run: DeliveryRun | undefined

beforeAll(async () => {
  cluster = await startCluster({ nodes: [], env: { CHANGEGATE_LINGER_MS: String(LINGER_MS) } })
})

afterAll(async () => {
  await run?.stop()
  await cluster?.stop()
})

/** Node id → the keys it lists in ownedStreams, as `gatewayNodes` on `askNode` reports them. */
async function ownedOrders(askNode: string): Promise<Record<string, string[]>> {
  const nodes = await cluster.gatewayNodes(askNode)
  return Object.fromEntries(nodes.map((n) => [n.id, n.ownedStreams.filter((key) => key === cluster.ordersKey)]))
}

describe('cluster membership', () => {
  it('two nodes started at once, subscribed at once: exactly one owner, and every event once on both', async () => {
    expect(cluster.nodes.size).toBe(0)
    await cluster.ensureNodes(PAIR)
    run = await startDeliveryRun(cluster, { region: 'burst-contention', nodes: PAIR })

    const { ownerNode } = await agreedOwner(cluster, PAIR)
    expect(PAIR).toContain(ownerNode)
    let owned: Record<string, string[]> = {}
    await waitUntil(
      async () => {
        owned = await ownedOrders(PAIR[1])
        return PAIR.every((id) => id in owned) && owned[ownerNode].length === 1
      },
      10_000,
      () => `gatewayNodes never listed ${cluster.ordersKey} on ${ownerNode}: ${JSON.stringify(owned)}`,
      250,
    )
    expect(owned).toEqual(Object.fromEntries(PAIR.map((id) => [id, id === ownerNode ? [cluster.ordersKey] : []])))

    const burst = startBurst(cluster.db, { tenant: TENANT, region: run.region, writers: 3, perWriter: 1000 })
    await burst.done
    await run.waitForDelivery(burst.total)
    expect(run.differences(), cluster.diagnostics()).toEqual(run.identical())
    expect(run.subscribers.flatMap((s) => s.current.errors)).toEqual([])

    await run.stop()
    run = undefined
  })

  it('when every client is gone, the stream stops after its linger on every node; a new subscription later works', async () => {
    await cluster.ensureNodes(PAIR)
    const warm = await startDeliveryRun(cluster, { region: 'linger-before', nodes: PAIR })
    const before = await agreedOwner(cluster, PAIR)
    await warm.stop()
    const left = Date.now()

    // Once the nodes saw the clients go, the stream stays open for the linger, still owned.
    let rows = await cluster.ordersStreamOn(PAIR)
    await waitUntil(
      async () => {
        rows = await cluster.ordersStreamOn(PAIR)
        return Object.values(rows).every((row) => row === undefined || row.subscribers === 0)
      },
      LINGER_MS,
      () => `subscribers still counted after every client left: ${JSON.stringify(rows)}`,
      50,
    )
    expect(Date.now() - left).toBeLessThan(LINGER_MS)
    expect(rows[before.ownerNode]).toMatchObject({ ownerNode: before.ownerNode, subscribers: 0 })
    expect(rows[before.ownerNode]?.state).not.toBe('STOPPED')

    await waitUntil(
      async () => {
        rows = await cluster.ordersStreamOn(PAIR)
        return Object.values(rows).every((row) => row === undefined || row.state === 'STOPPED')
      },
      LINGER_MS + 7_000,
      () => `the orders stream is still open without clients: ${JSON.stringify(rows)}`,
      500,
    )
    let owned: Record<string, string[]> = {}
    await waitUntil(
      async () => {
        owned = await ownedOrders(PAIR[0])
        return Object.values(owned).every((keys) => keys.length === 0)
      },
      10_000,
      () => `a node still lists ${cluster.ordersKey} in ownedStreams: ${JSON.stringify(owned)}`,
      250,
    )

    run = await startDeliveryRun(cluster, { region: 'linger-after', nodes: PAIR })
    const after = await agreedOwner(cluster, PAIR)
    expect(after.epoch).toBeGreaterThan(before.epoch!)
    const burst = startBurst(cluster.db, { tenant: TENANT, region: run.region, writers: 3, perWriter: 1000 })
    await burst.done
    await run.waitForDelivery(burst.total)
    expect(run.differences(), cluster.diagnostics()).toEqual(run.identical())

    await run.stop()
    run = undefined
  })

  it('a node started mid-burst serves a client subscribing after a cursor from before the burst: exactly the oracle\'s sequence', async () => {
    await cluster.ensureNodes(PAIR)
    expect(cluster.nodes.get('node-c')).toBeUndefined()
    run = await startDeliveryRun(cluster, { region: 'burst-late-join', nodes: PAIR })

    const burst = startBurst(cluster.db, { tenant: TENANT, region: run.region, writers: 3, perWriter: 1000, durationMs: 12_000 })
    await burst.whenCommitted(300)
    const late = await cluster.startNode('node-c')
    expect(burst.committed).toBeLessThan(burst.total)
    const joined = await subscribe(cluster, late.id, { region: run.region, after: run.cursor, label: 'node-c/after-pre-burst-cursor' })
    run.subscribers.push(joined)
    await burst.done
    await run.waitForDelivery(burst.total)

    expect(run.differences(), cluster.diagnostics()).toEqual(run.identical())
    expect(run.subscribers.flatMap((s) => s.current.errors)).toEqual([])
    const owner = await agreedOwner(cluster, [...PAIR, late.id])
    expect([...PAIR, late.id]).toContain(owner.ownerNode)

    await run.stop()
    run = undefined
  })
})
