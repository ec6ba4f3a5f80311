import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedDemo, startDemoTraffic } from '../../src/mongo/demo.js'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { collect, wsClient } from '../fixtures/gateway.js'

const README_FILTER = 'subscription { orderChanged(filter: { status: [SHIPPED, DELIVERED] }) { transition operationType } }'
const ALL_ORDERS = 'subscription { orderChanged { transition operationType } }'

interface Seen {
  transition: string
  operationType: string
  at: number
}

describe('demo traffic', () => {
  let gw: TestGateway
  beforeAll(async () => {
    gw = await startTestGateway()
    await seedDemo(gw.mongo.db)
  })
  afterAll(() => gw.stop())

  it('shows every transition, through the README filter and without a filter, within one cycle of writes', async () => {
    const client = wsClient(gw.wsUrl, await gw.token('acme'))
    const other = wsClient(gw.wsUrl, await gw.token('globex'))
    const readme = collect<Seen>(client, README_FILTER)
    const all = collect<Seen>(client, ALL_ORDERS)
    const globex = collect<Seen>(other, README_FILTER)
    await new Promise((resolve) => setTimeout(resolve, 300))
    // The same cycle the gateway runs, faster: 13 writes per tenant every 2 × 20 ms.
    const traffic = startDemoTraffic(gw.mongo.db, { intervalMs: 20 })
    try {
      await expect.poll(() => new Set(readme.events.map((e) => e.transition)), { timeout: 20_000 }).toEqual(new Set(['ENTERED', 'UPDATED', 'LEFT']))
      await expect.poll(() => new Set(all.events.map((e) => e.operationType)), { timeout: 20_000 }).toEqual(new Set(['INSERT', 'UPDATE', 'DELETE']))
      // Tenant moves reach the other tenant as ENTERED updates.
      await expect.poll(() => globex.events.some((e) => e.transition === 'ENTERED' && e.operationType === 'UPDATE'), { timeout: 20_000 }).toBe(true)
      expect([...readme.errors, ...all.errors, ...globex.errors]).toEqual([])
    } finally {
      traffic.stop()
      await client.dispose()
      await other.dispose()
    }
  })

  it('at its real pace, gives the README subscription an event at least every 5 s', async () => {
    const client = wsClient(gw.wsUrl, await gw.token('acme'))
    const traffic = startDemoTraffic(gw.mongo.db)
    const subscribedAt = Date.now()
    const arrivals: number[] = []
    const readme = collect<Seen>(client, README_FILTER, {}, () => {
      arrivals.push(Date.now())
      return { transition: '', operationType: '', at: Date.now() }
    })
    try {
      await new Promise((resolve) => setTimeout(resolve, 12_000))
      const times = [subscribedAt, ...arrivals, Date.now()]
      const gaps = times.slice(1).map((t, i) => t - times[i])
      expect(arrivals.length).toBeGreaterThanOrEqual(3)
      expect(Math.max(...gaps)).toBeLessThan(5000)
      expect(readme.errors).toEqual([])
    } finally {
      traffic.stop()
      await client.dispose()
    }
  })
})
