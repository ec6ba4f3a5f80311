import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnGateway, type GatewayProcess } from '../fixtures/gateway.js'
import { isLocalRequest, launchBrowser, responseText, type TestBrowser } from '../fixtures/browser.js'

// `npm start` on a fresh machine: embedded MongoDB, demo traffic, a random secret and printed dev tokens.
describe('newcomer path in the browser: npm start, then GraphiQL and the console with nothing typed', () => {
  let gw: GatewayProcess
  let browser: TestBrowser
  beforeAll(async () => {
    ;[gw, browser] = await Promise.all([spawnGateway({ MONGODB_URI: '', CHANGEGATE_JWT_SECRET: '', CHANGEGATE_DEMO: '1' }, undefined, { from: 'start' }), launchBrowser()])
  })
  afterAll(async () => {
    await browser?.close()
    await gw?.stop()
  })

  it('GraphiQL opens on the README subscription with the admin token, and one click shows demo events within seconds', async () => {
    const { page, requests } = await browser.newPage()
    await page.goto(gw.url, { waitUntil: 'load' })
    await page.waitForSelector('.graphiql-execute-button', { timeout: 30_000 })
    // Introspection done (the editor knows the schema) before running, as a person would wait for the page.
    await page.waitForFunction(() => document.querySelector('.graphiql-query-editor')?.textContent?.includes('orderChanged'))
    await page.click('.graphiql-execute-button')
    const clickedAt = Date.now()
    await page.waitForFunction(
      () => ((document.querySelector('.graphiql-response') as HTMLElement | null)?.innerText ?? '').includes('orderChanged'),
      { timeout: 10_000, polling: 100 },
    )
    const text = await responseText(page)
    expect(text).toMatch(/"transition": "(ENTERED|UPDATED|LEFT)"/)
    expect(Date.now() - clickedAt).toBeLessThan(8000)
    expect(requests.filter((url) => !isLocalRequest(url))).toEqual([])
  })

  it('the console shows the gateway with the dev admin token already filled in', async () => {
    const { page } = await browser.newPage()
    await page.goto(gw.url.replace('/graphql', '/console'), { waitUntil: 'load' })
    await page.waitForSelector('#dashboard:not([hidden])', { timeout: 10_000 })
    await page.waitForFunction(() => document.querySelectorAll('#nodes tbody tr').length === 1)
    expect(await page.$eval('#refusal', (el) => (el as HTMLElement).hidden)).toBe(true)
  })
})
