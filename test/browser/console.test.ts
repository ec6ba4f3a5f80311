import { ObjectId } from 'mongodb'
import type { Page } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { seedDemo, startDemoTraffic } from '../../src/mongo/demo.js'
import { isLocalRequest, launchBrowser, screenshot, screenshotDir, waitForText, type TestBrowser } from '../fixtures/browser.js'
import { collect, wsClient } from '../fixtures/gateway.js'

/** The `orders` row of the console's streams table, as the page shows it. */
const ordersRow = (page: Page) =>
  page.evaluate(() => {
    const row = [...document.querySelectorAll('#streams tbody tr')].find((tr) => tr.children[1]?.textContent === 'orders')
    if (!row) return null
    return { state: row.children[2].textContent, subscribers: Number(row.children[5].textContent), owner: row.children[3].textContent }
  })

/** A value of the demo's `orderAggregate` as the chart asks for it. */
interface OrderAggregateValue {
  asOf: string
  groups: Array<{ key: { status: string | null }; count: number; sum: { totalAmount: number | null } }>
}

const CHART_QUERY =
  'subscription { orderAggregate(groupBy: [STATUS], window: { size: 300, slide: 10 }, throttleMs: 0) { asOf groups { key { status } count sum { totalAmount } } } }'

/** What the chart shows per group: its label, the count next to its bar, and the sum. */
const chartGroups = (page: Page) =>
  page.$$eval('#aggregate-chart .aggregate-group', (rows) =>
    Object.fromEntries(
      rows.map((g) => [
        g.querySelector('.aggregate-label')?.textContent ?? '',
        { count: Number(g.querySelector('.aggregate-count')?.textContent), sum: g.querySelector('.aggregate-sum')?.textContent ?? '' },
      ]),
    ),
  )

/** The same, from an `orderAggregate` value: sums shown to two decimals. */
const expectedChart = (value: OrderAggregateValue) =>
  Object.fromEntries(
    value.groups.map((g) => [g.key.status ?? '(none)', { count: g.count, sum: `sum ${Math.round((g.sum.totalAmount ?? 0) * 100) / 100}` }]),
  )

const countOf = (value: OrderAggregateValue | undefined, status: string) => value?.groups.find((g) => g.key.status === status)?.count ?? 0

async function openConsole(page: Page, origin: string, token: string) {
  await page.goto(`${origin}/console`, { waitUntil: 'load' })
  await page.$eval('#token', (input, value) => ((input as HTMLInputElement).value = value), token)
  await page.click('#token-form button')
}

describe('the live console in headless Chromium', () => {
  let gw: TestGateway
  let browser: TestBrowser
  let origin: string
  beforeAll(async () => {
    ;[gw, browser] = await Promise.all([startTestGateway(), launchBrowser()])
    origin = new URL(gw.url).origin
  })
  afterAll(async () => {
    await browser?.close()
    await gw?.stop()
  })

  it('shows the orders stream RUNNING, its subscriber count following a client, and a test write in the live tail', async () => {
    const { page, requests } = await browser.newPage()
    // Traffic as in a demo, faster, so the console has something to chart.
    await seedDemo(gw.mongo.db)
    const traffic = startDemoTraffic(gw.mongo.db, { intervalMs: 100 })
    try {
      await watchConsole(page, requests)
    } finally {
      traffic.stop()
    }
  })

  async function watchConsole(page: Page, requests: string[]) {
    await openConsole(page, origin, await gw.token('acme', 'admin'))
    await page.waitForSelector('#dashboard:not([hidden])')
    await waitForText(page, '#nodes tbody', 'test-node')

    // The live chart's aggregate follows the orders stream too: counted before the tail and the client join.
    await waitForText(page, '#aggregate-status', 'live')
    // The live tail subscribes to orderChanged: the orders stream starts, with the tail as its subscriber.
    await page.click('#tail-start')
    await page.waitForFunction(() => document.querySelector('#tail-status')?.textContent === 'live')
    await page.waitForFunction(
      () => [...document.querySelectorAll('#streams tbody tr')].some((tr) => tr.children[1]?.textContent === 'orders' && tr.children[2]?.textContent === 'RUNNING'),
      { timeout: 15_000 },
    )
    const before = (await ordersRow(page))!
    expect(before).toMatchObject({ state: 'RUNNING', owner: 'test-node' })

    const client = wsClient(gw.wsUrl, await gw.token('acme'))
    const sub = collect(client, 'subscription { orderChanged { documentId } }')
    try {
      await expect.poll(async () => (await ordersRow(page))?.subscribers, { timeout: 10_000 }).toBe(before.subscribers + 1)
      sub.dispose()
      await expect.poll(async () => (await ordersRow(page))?.subscribers, { timeout: 10_000 }).toBe(before.subscribers)
    } finally {
      await client.dispose()
    }

    const { insertedId } = await gw.mongo.db.collection('orders').insertOne({
      tenantId: 'acme', customerId: new ObjectId(), status: 'confirmed', totalAmount: 12.5, region: 'eu-west', items: [],
    })
    await waitForText(page, '#tail li', insertedId.toHexString())
    // The filter box narrows the tail to matching events.
    await page.type('#tail-filter', 'no-such-text')
    expect(await page.$$eval('#tail li', (items) => items.filter((li) => !(li as HTMLElement).hidden).length)).toBe(0)
    await page.$eval('#tail-filter', (input) => {
      ;(input as HTMLInputElement).value = ''
      input.dispatchEvent(new Event('input'))
    })

    // An error a client receives shows up by code.
    expect((await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer nope' }, body: '{}' })).status).toBe(401)
    await waitForText(page, '#errors tbody', 'UNAUTHENTICATED')

    await page.click('#explain-run')
    await waitForText(page, '#explain-result', '"filterRunsIn"')
    expect(await page.$eval('#explain-result', (el) => el.textContent)).toContain('"collection": "orders"')

    // For the docs: let the chart fill up before the picture.
    if (screenshotDir) await new Promise((resolve) => setTimeout(resolve, 15_000))
    await screenshot(page, 'console')
    expect(requests.filter((url) => !isLocalRequest(url))).toEqual([])
    await page.close()
  }

  it("charts the first model's live aggregate: the groups and counts orderAggregate returns, and their change after a write", async () => {
    const orders = gw.mongo.db.collection('orders')
    const order = (status: string, totalAmount: number) => ({ tenantId: 'acme', customerId: new ObjectId(), status, totalAmount, region: 'eu-west', items: [] })
    await orders.insertMany([order('pending', 10), order('pending', 20.5), order('shipped', 99.99), { ...order('confirmed', 5), tenantId: 'globex' }])

    const { page, requests } = await browser.newPage()
    const client = wsClient(gw.wsUrl, await gw.token('acme'))
    const values = collect<OrderAggregateValue>(client, CHART_QUERY)
    try {
      await openConsole(page, origin, await gw.token('acme', 'admin'))
      await waitForText(page, '#aggregate-status', 'live')
      // Derived from the schema: the first model, its first groupable field, its first numeric field.
      expect(await page.$eval('#aggregate-title', (el) => el.textContent)).toBe(
        'orderAggregate by status: count and sum of totalAmount, 300 s window sliding every 10 s',
      )
      await values.waitFor(1)
      await expect.poll(() => chartGroups(page), { timeout: 10_000 }).toEqual(expectedChart(values.events.at(-1)!))
      expect(Object.keys(await chartGroups(page))).toEqual(expect.arrayContaining(['PENDING', 'SHIPPED']))

      // The window shown is the value's: 300 s, ending after its asOf.
      const title = await page.$eval('#aggregate-window', (el) => el.getAttribute('title') ?? '')
      const [, asOf, start, end] = /^asOf (\S+), window \[(\S+), (\S+)\)$/.exec(title) ?? []
      expect(Date.parse(end) - Date.parse(start)).toBe(300_000)
      expect(Date.parse(asOf)).toBeGreaterThanOrEqual(Date.parse(start))
      expect(Date.parse(asOf)).toBeLessThan(Date.parse(end))
      expect(await page.$eval('#aggregate-window', (el) => el.textContent)).toMatch(/^as of .+, window .+ – .+$/)

      const pendingBefore = countOf(values.events.at(-1), 'PENDING')
      await orders.insertOne(order('pending', 40.25))
      await expect.poll(() => countOf(values.events.at(-1), 'PENDING'), { timeout: 10_000 }).toBe(pendingBefore + 1)
      await expect.poll(() => chartGroups(page), { timeout: 10_000 }).toEqual(expectedChart(values.events.at(-1)!))
      expect((await chartGroups(page)).PENDING.count).toBe(pendingBefore + 1)
      expect(values.errors).toEqual([])
      expect(requests.filter((url) => !isLocalRequest(url))).toEqual([])
    } finally {
      values.dispose()
      await client.dispose()
      await page.close()
    }
  })

  it('in production, where introspection is off, charts from the subscription the page carries', async () => {
    await gw.mongo.db.collection('orders').insertOne({ tenantId: 'acme', customerId: new ObjectId(), status: 'delivered', totalAmount: 7, region: 'us-east', items: [] })
    const prod = await startTestGateway({ mongo: gw.mongo, env: { NODE_ENV: 'production', CHANGEGATE_CONSOLE: '1' } })
    const prodOrigin = new URL(prod.url).origin
    const client = wsClient(prod.wsUrl, await prod.token('acme'))
    const values = collect<OrderAggregateValue>(client, CHART_QUERY)
    try {
      // The page carries the first model's chart: no introspection needed. Served with the gateway's own CSP.
      const served = await fetch(`${prodOrigin}/console`)
      expect(served.headers.get('content-security-policy')).toContain("default-src 'self'")
      expect(await served.text()).toContain('orderAggregate')
      const { page, requests } = await browser.newPage()
      await openConsole(page, prodOrigin, await prod.token('acme', 'admin'))
      await waitForText(page, '#aggregate-status', 'live')
      await values.waitFor(1)
      await expect.poll(() => chartGroups(page), { timeout: 10_000 }).toEqual(expectedChart(values.events.at(-1)!))
      expect(Object.keys(await chartGroups(page))).toContain('DELIVERED')
      expect(requests.filter((url) => !isLocalRequest(url))).toEqual([])
      await page.close()
    } finally {
      values.dispose()
      await client.dispose()
      await prod.stop()
    }
  })

  it('shows a clear refusal to a token without scope admin', async () => {
    const { page } = await browser.newPage()
    await openConsole(page, origin, await gw.token('acme'))
    // Before the gateway answers, the page asks for a token: wait for the answer's refusal.
    await waitForText(page, '#refusal:not([hidden])', 'does not have scope "admin"')
    expect(await page.$eval('#dashboard', (el) => (el as HTMLElement).hidden)).toBe(true)
    await page.close()
  })
})
