import { describe, expect, it } from 'vitest'
import { startTestGateway } from '../fixtures/app.js'

describe('browser pages: console, example client, graphql-ws browser build', () => {
  it('in dev mode serves /console, the example client and graphql-ws from the gateway, same-origin only', async () => {
    const gw = await startTestGateway()
    try {
      const origin = new URL(gw.url).origin
      const page = await fetch(`${origin}/console`)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-type')).toContain('text/html')
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'")
      const html = await page.text()
      expect(html).toContain('<script src="/assets/graphql-ws.min.js"></script>')
      expect(html).not.toMatch(/https?:\/\//)
      const script = await fetch(`${origin}/console/console.js`)
      expect(script.headers.get('content-type')).toContain('text/javascript')
      expect(await script.text()).toContain('explainSubscription')
      const ws = await fetch(`${origin}/assets/graphql-ws.min.js`)
      expect(ws.status).toBe(200)
      expect(await ws.text()).toContain('graphqlWs')
      expect((await fetch(`${origin}/examples/web-client/`)).status).toBe(200)
      expect((await fetch(`${origin}/examples/web-client/client.js`)).status).toBe(200)
      expect((await fetch(`${origin}/console`, { method: 'POST' })).status).toBe(405)
    } finally {
      await gw.stop()
    }
  })

  it('in production serves no console unless CHANGEGATE_CONSOLE=1, and never the example client', async () => {
    const off = await startTestGateway({ env: { NODE_ENV: 'production' } })
    try {
      const origin = new URL(off.url).origin
      expect((await fetch(`${origin}/console`)).status).toBe(404)
      expect((await fetch(`${origin}/examples/web-client/`)).status).toBe(404)
      expect((await fetch(`${origin}/assets/graphql-ws.min.js`)).status).toBe(404)
    } finally {
      await off.stop()
    }
    const on = await startTestGateway({ env: { NODE_ENV: 'production', CHANGEGATE_CONSOLE: '1' } })
    try {
      const origin = new URL(on.url).origin
      const page = await fetch(`${origin}/console`)
      expect(page.status).toBe(200)
      expect(await page.text()).not.toContain('changegate-dev-token')
      expect((await fetch(`${origin}/examples/web-client/`)).status).toBe(404)
    } finally {
      await on.stop()
    }
  })
})
