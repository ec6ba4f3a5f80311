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

  it('shows a clear refusal to a token without scope admin', async () => {
    const { page } = await browser.newPage()
    await openConsole(page, origin, await gw.token('acme'))
    await page.waitForSelector('#refusal:not([hidden])')
    expect(await page.$eval('#refusal', (el) => el.textContent)).toContain('does not have scope "admin"')
    expect(await page.$eval('#dashboard', (el) => (el as HTMLElement).hidden)).toBe(true)
    await page.close()
  })
})
