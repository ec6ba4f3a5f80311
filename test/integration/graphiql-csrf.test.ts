import { ObjectId } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'

const README_SUBSCRIPTION = `subscription {
  orderChanged(filter: { status: [SHIPPED, DELIVERED] }) {
    cursor operationType transition documentId
    order { status totalAmount customer { email } }
    updatedFields { path value }
  }
}`

/** Reads `text/event-stream` blocks until one `next` event arrives; returns its JSON payload. */
async function firstNext(response: Response): Promise<{ data?: Record<string, unknown>; errors?: unknown[] }> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) throw new Error(`stream ended before an event: ${buffer}`)
      buffer += value
      for (const block of buffer.split('\n\n')) {
        const lines = block.split('\n')
        if (!lines.includes('event: next')) continue
        const data = lines.find((l) => l.startsWith('data:'))
        if (data) return JSON.parse(data.slice(5)) as { data?: Record<string, unknown> }
      }
    }
  } finally {
    await reader.cancel()
  }
}

describe('GraphiQL and CSRF protection', () => {
  let gw: TestGateway
  let token: string
  beforeAll(async () => {
    gw = await startTestGateway()
    token = await gw.token('acme', 'admin')
  })
  afterAll(() => gw.stop())

  it('opens GraphiQL on the README subscription, and keeps a query already in the URL', async () => {
    const fresh = await fetch(gw.url, { headers: { accept: 'text/html' }, redirect: 'manual' })
    expect(fresh.status).toBe(302)
    const location = new URL(fresh.headers.get('location')!, gw.url)
    expect(location.pathname).toBe('/graphql')
    expect(location.searchParams.get('query')).toContain('orderChanged(filter: { status: [SHIPPED, DELIVERED] })')
    const edited = await fetch(`${gw.url}?query=${encodeURIComponent('{ changeCursor }')}`, { headers: { accept: 'text/html' }, redirect: 'manual' })
    expect(edited.status).toBe(200)
  })

  it('serves a GraphiQL page that sends the CSRF header with every request', async () => {
    const html = await (await fetch(gw.url, { headers: { accept: 'text/html' } })).text()
    expect(html).toContain('"additionalHeaders":{"x-graphql-yoga-csrf":"graphiql"}')
    expect(html).toContain('"subscriptionsProtocol":"SSE"')
  })

  it("runs the README subscription sent the way GraphiQL sends it (SSE GET, Authorization, CSRF header, no Content-Type)", async () => {
    const response = await fetch(`${gw.url}?query=${encodeURIComponent(README_SUBSCRIPTION)}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'x-graphql-yoga-csrf': 'graphiql' },
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const customerId = new ObjectId()
    await gw.mongo.db.collection('users').insertOne({ _id: customerId, tenantId: 'acme', email: 'ada@acme.example', name: 'Ada' })
    const event = firstNext(response)
    const written = await gw.mongo.db.collection('orders').insertOne({
      tenantId: 'acme', customerId, status: 'shipped', totalAmount: 42.5, currency: 'EUR', region: 'eu-west', items: [],
      createdAt: new Date(), updatedAt: new Date(),
    })
    const payload = await event
    expect(payload.errors).toBeUndefined()
    expect(payload.data?.orderChanged).toMatchObject({
      operationType: 'INSERT',
      transition: 'ENTERED',
      documentId: written.insertedId.toHexString(),
      order: { status: 'SHIPPED', totalAmount: 42.5, customer: { email: 'ada@acme.example' } },
    })
  })

  it("runs GraphiQL's JSON POSTs (queries, introspection)", async () => {
    const response = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-graphql-yoga-csrf': 'graphiql' },
      body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } })
  })

  // What a cross-site page can make a browser send without a preflight: no custom header, a CORS-safelisted
  // Content-Type. Even when an Authorization header reaches the gateway (e.g. added by a proxy from a cookie),
  // nothing runs.
  const crossSite = { origin: 'https://evil.example', authorization: '' }
  const simpleRequests: Array<[string, (auth: string) => RequestInit & { path?: string }]> = [
    ['a GET (link, image, EventSource)', (auth) => ({ headers: { ...crossSite, authorization: auth, accept: 'text/event-stream' }, path: `?query=${encodeURIComponent(README_SUBSCRIPTION)}` })],
    ['a form POST (urlencoded)', (auth) => ({ method: 'POST', headers: { ...crossSite, authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: `query=${encodeURIComponent('{ changeCursor }')}` })],
    ['a form POST (multipart)', (auth) => {
      const body = new FormData()
      body.set('query', '{ changeCursor }')
      return { method: 'POST', headers: { ...crossSite, authorization: auth }, body }
    }],
    ['a text/plain POST carrying JSON', (auth) => ({ method: 'POST', headers: { ...crossSite, authorization: auth, 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ changeCursor }' }) })],
  ]
  it.each(simpleRequests)('refuses %s with 403 FORBIDDEN before anything runs', async (_name, build) => {
    const { path, ...init } = build(`Bearer ${token}`)
    const response = await fetch(`${gw.url}${path ?? ''}`, init)
    expect(response.status).toBe(403)
    // JSON, or one SSE error event when the request asked for an event stream.
    const text = await response.text()
    expect(text).toContain('"code":"FORBIDDEN"')
    expect(text).not.toContain('"data"')
  })
})
