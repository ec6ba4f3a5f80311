import { ObjectId } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { startMongo, type MongoTarget } from '../fixtures/mongo.js'
import { streamSubscribers } from '../fixtures/streams.js'
import { isLocalRequest, launchBrowser, type TestBrowser } from '../fixtures/browser.js'

describe('the example web client (examples/web-client) in headless Chromium', () => {
  let mongo: MongoTarget
  let gw: TestGateway
  let browser: TestBrowser
  beforeAll(async () => {
    mongo = await startMongo()
    ;[gw, browser] = await Promise.all([startTestGateway({ mongo }), launchBrowser()])
  })
  afterAll(async () => {
    await browser?.close()
    await gw?.stop()
    await mongo?.stop()
  })

  const writeOrder = async (n: number) =>
    (await mongo.db.collection('orders').insertOne({ tenantId: 'acme', customerId: new ObjectId(), status: 'pending', totalAmount: n, items: [] }))
      .insertedId.toHexString()

  it('receives events, and after a reload during writes has every write exactly once', async () => {
    const { page, requests } = await browser.newPage()
    const admin = await gw.token('acme', 'admin')
    const ordersSubscribers = () => streamSubscribers(gw.url, admin)
    const received = () => page.evaluate(() => (window as unknown as { received: Array<{ documentId: string }> }).received.map((e) => e.documentId))

    await page.goto(`${new URL(gw.url).origin}/examples/web-client/?token=${await gw.token('acme')}`, { waitUntil: 'load' })
    // On a first visit there is no cursor: writes count once the subscription is live on the gateway.
    await expect.poll(ordersSubscribers, { timeout: 15_000 }).toBe(1)
    const written: string[] = []
    for (let n = 0; n < 3; n++) written.push(await writeOrder(n))
    await expect.poll(received, { timeout: 15_000 }).toEqual(written)

    // Reload while writing: some writes land before the old page goes, some while no page is connected.
    const reloading = page.reload({ waitUntil: 'load' })
    for (let n = 3; n < 8; n++) {
      written.push(await writeOrder(n))
      await new Promise((resolve) => setTimeout(resolve, 30))
    }
    await reloading
    for (let n = 8; n < 10; n++) written.push(await writeOrder(n))

    await expect.poll(async () => (await received()).length, { timeout: 15_000 }).toBeGreaterThanOrEqual(written.length)
    await new Promise((resolve) => setTimeout(resolve, 500)) // a duplicate would arrive by now
    const ids = await received()
    expect(ids).toEqual(written)
    expect(await page.$$eval('#events li', (items) => items.length)).toBe(written.length)
    expect(requests.filter((url) => !isLocalRequest(url))).toEqual([])
  })

  it('resumes after losing the gateway: writes made while it was away arrive once it is back', async () => {
    const { page } = await browser.newPage()
    const received = () => page.evaluate(() => (window as unknown as { received: Array<{ documentId: string }> }).received.map((e) => e.documentId))
    // Same browser profile: the page resumes after the cursor the first test stored.
    await page.goto(`${new URL(gw.url).origin}/examples/web-client/`, { waitUntil: 'load' })
    const before = await received()
    const written: string[] = []
    written.push(await writeOrder(100))
    await expect.poll(async () => (await received()).length, { timeout: 15_000 }).toBe(before.length + 1)

    const port = new URL(gw.url).port
    await gw.app.stop()
    await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('disconnected'), { timeout: 10_000 })
    for (let n = 101; n < 104; n++) written.push(await writeOrder(n))
    gw = await startTestGateway({ mongo, env: { PORT: port } })
    written.push(await writeOrder(104))

    await expect.poll(async () => (await received()).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(before.length + written.length)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect((await received()).slice(before.length)).toEqual(written)
  })
})
