import { ObjectId } from 'mongodb'
import type { Page } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { streamSubscribers } from '../fixtures/streams.js'
import { isLocalRequest, launchBrowser, responseText, runInGraphiQL, screenshot, typeInEditor, type TestBrowser } from '../fixtures/browser.js'

const README_SUBSCRIPTION =
  'subscription { orderChanged(filter: { status: [SHIPPED, DELIVERED] }) { cursor operationType transition documentId order { status totalAmount customer { email } } updatedFields { path value } } }'

describe('GraphiQL in headless Chromium', () => {
  let gw: TestGateway
  let browser: TestBrowser
  let page: Page
  let requests: string[]

  beforeAll(async () => {
    ;[gw, browser] = await Promise.all([startTestGateway(), launchBrowser()])
    ;({ page, requests } = await browser.newPage())
    await page.goto(gw.url, { waitUntil: 'load' })
    await page.waitForSelector('.graphiql-execute-button', { timeout: 30_000 })
    // The token goes where a person pastes it: the Headers tab.
    const token = await gw.token('acme', 'admin')
    await page.evaluate(() => {
      const tab = [...document.querySelectorAll<HTMLButtonElement>('.graphiql-editor-tools button')].find((b) => b.textContent === 'Headers')
      tab?.click()
    })
    await typeInEditor(page, '.graphiql-editor-tool', `{ "Authorization": "Bearer ${token}" }`)
  })
  afterAll(async () => {
    await browser?.close()
    await gw?.stop()
  })

  it('loads with every asset from the gateway itself: no request leaves the machine', async () => {
    expect(await page.title()).toBe('changegate')
    expect(await page.$('.graphiql-query-editor .monaco-editor')).not.toBeNull()
    expect(requests.length).toBeGreaterThan(0)
    expect(requests.filter((url) => !isLocalRequest(url))).toEqual([])
  })

  it("runs the README's subscription and shows an order the test writes", async () => {
    await typeInEditor(page, '.graphiql-query-editor', README_SUBSCRIPTION)
    await page.click('.graphiql-toolbar-button[aria-label^="Prettify"]')
    await runInGraphiQL(page)
    const customerId = new ObjectId()
    await gw.mongo.db.collection('users').insertOne({ _id: customerId, tenantId: 'acme', email: 'grace@acme.example', name: 'Grace' })
    // Writes count once the subscription is live on the gateway.
    const admin = await gw.token('acme', 'admin')
    await expect.poll(() => streamSubscribers(gw.url, admin), { timeout: 15_000 }).toBe(1)
    const { insertedId } = await gw.mongo.db.collection('orders').insertOne({
      tenantId: 'acme', customerId, status: 'shipped', totalAmount: 99.5, currency: 'EUR', region: 'eu-west', items: [],
      createdAt: new Date(), updatedAt: new Date(),
    })
    await page.waitForFunction(
      (id) => ((document.querySelector('.graphiql-response') as HTMLElement | null)?.innerText ?? '').includes(id),
      { timeout: 15_000 },
      insertedId.toHexString(),
    )
    const text = await responseText(page)
    expect(text).toContain('"transition": "ENTERED"')
    expect(text).toContain('"status": "SHIPPED"')
    expect(text).toContain('"email": "grace@acme.example"')
    await screenshot(page, 'graphiql-subscription')
    expect(requests.filter((url) => !isLocalRequest(url))).toEqual([])
  })

  it('shows a query result with its fields in the order of the selection set', async () => {
    await typeInEditor(page, '.graphiql-query-editor', '{ gatewayNodes { subscriptions id } streams { state key } changeCursor }')
    await runInGraphiQL(page)
    await page.waitForFunction(
      () => ((document.querySelector('.graphiql-response') as HTMLElement | null)?.innerText ?? '').includes('changeCursor'),
      { timeout: 15_000 },
    )
    const text = await responseText(page)
    const at = (key: string) => text.indexOf(`"${key}"`)
    for (const key of ['gatewayNodes', 'subscriptions', 'id', 'streams', 'state', 'key', 'changeCursor']) expect(at(key)).toBeGreaterThan(-1)
    expect(at('gatewayNodes')).toBeLessThan(at('streams'))
    expect(at('streams')).toBeLessThan(at('changeCursor'))
    expect(at('subscriptions')).toBeLessThan(at('id'))
    expect(at('state')).toBeLessThan(at('key'))
  })
})
