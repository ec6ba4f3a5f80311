/**
 * Transactions across an owner kill: writers commit orders five at a time in multi-document transactions while
 * the owner of the orders stream is killed (SIGKILL). Every client ends up with exactly the committed sequence, as
 * an oracle change stream opened by the test records it: no statement of a transaction lost or repeated when the
 * stream resumes from a position inside one.
 */
import { ObjectId, type Db } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  TENANT,
  agreedOwner,
  sleep,
  startCluster,
  startDeliveryRun,
  waitUntil,
  type Burst,
  type Cluster,
  type DeliveryRun,
} from '../fixtures/cluster.js'

const NODES = ['node-a', 'node-b', 'node-c'] as const
const PER_TRANSACTION = 5
let cluster: Cluster
let run: DeliveryRun | undefined

/** `writers` writers, each committing `transactions` transactions of PER_TRANSACTION matching orders (plus one other). */
function startTransactionalBurst(db: Db, client: Cluster['client'], options: { region: string; writers: number; transactions: number }): Burst {
  const orders = db.collection('orders')
  const sentAt = new Map<string, number>()
  let committed = 0
  const order = (tenantId: string, region: string) => ({
    _id: new ObjectId(),
    tenantId,
    customerId: new ObjectId(),
    status: 'pending',
    totalAmount: 10,
    currency: 'EUR',
    region,
    items: [],
    createdAt: new Date(),
    updatedAt: new Date(),
  })
  const writer = async () => {
    const session = client.startSession()
    try {
      for (let t = 0; t < options.transactions; t++) {
        const docs = Array.from({ length: PER_TRANSACTION }, () => order(TENANT, options.region))
        await session.withTransaction(async () => {
          for (const [i, doc] of docs.entries()) {
            await orders.insertOne(doc, { session })
            if (i === 2) await orders.insertOne(order('globex', options.region), { session })
          }
        })
        for (const doc of docs) sentAt.set(doc._id.toHexString(), Date.now())
        committed += docs.length
        await sleep(20)
      }
    } finally {
      await session.endSession()
    }
  }
  const done = Promise.all(Array.from({ length: options.writers }, () => writer())).then(() => undefined)
  return {
    get committed() {
      return committed
    },
    sentAt,
    total: options.writers * options.transactions * PER_TRANSACTION,
    done,
    whenCommitted: (count) => waitUntil(() => committed >= count, 60_000, () => `only ${committed} committed`),
  }
}

beforeAll(async () => {
  cluster = await startCluster({ nodes: NODES })
})

afterAll(async () => {
  await run?.stop()
  await cluster?.stop()
})

describe('cluster with transactions', () => {
  it('owner SIGKILL while transactions commit: every statement delivered once, in commit order, everywhere', async () => {
    await cluster.ensureNodes(NODES)
    run = await startDeliveryRun(cluster, { region: 'txn-kill', nodes: NODES })
    const before = await agreedOwner(cluster, NODES)
    const survivors = NODES.filter((id) => id !== before.ownerNode)

    const burst = startTransactionalBurst(cluster.db, cluster.client, { region: run.region, writers: 3, transactions: 60 })
    await burst.whenCommitted(300)
    await cluster.kill(before.ownerNode)
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
    await run.stop()
    run = undefined
  })
})
