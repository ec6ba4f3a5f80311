import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SECRET_TEXT, startToyGateway, toyToken, type ToyGateway } from '../fixtures/toy-schema.js'

interface GraphQLBody {
  data?: Record<string, unknown> | null
  errors?: Array<{ message: string; extensions?: Record<string, unknown>; path?: unknown[] }>
}

async function post(gw: ToyGateway, query: string, token: string | null = gw.token, variables?: Record<string, unknown>) {
  const response = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  })
  return { status: response.status, body: (await response.json()) as GraphQLBody }
}

const deepQuery = (depth: number) => `{ node { ${'child { '.repeat(depth)}value${' }'.repeat(depth)} } }`
const aliasQuery = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: whoami`).join(' ')} }`

describe('HTTP transport (dev mode)', () => {
  let gw: ToyGateway
  beforeAll(async () => {
    gw = await startToyGateway()
  })
  afterAll(() => gw.stop())

  it('answers /healthz, /readyz and /metrics without a token, and 404 elsewhere', async () => {
    const base = new URL(gw.url).origin
    const health = await fetch(`${base}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok' })

    const ready = await fetch(`${base}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({ ready: true, checks: { toy: true } })

    const metrics = await fetch(`${base}/metrics`)
    expect(metrics.status).toBe(200)
    expect(metrics.headers.get('content-type')).toContain('text/plain')
    const text = await metrics.text()
    expect(text).toContain('changegate_ws_connections')
    expect(text).toContain('changegate_process_cpu_user_seconds_total')

    expect((await fetch(`${base}/nope`)).status).toBe(404)
    expect((await fetch(`${base}/graphql/extra`)).status).toBe(404)
  })

  it('answers 401 "Unauthorized" with code UNAUTHENTICATED without a token or with a bad one', async () => {
    const expired = await toyToken({}, -10)
    const forged = await toyToken({}, 3600, 'another-secret-another-secret-another-secret')
    for (const token of [null, 'not-a-jwt', expired, forged]) {
      const { status, body } = await post(gw, '{ whoami }', token)
      expect(status).toBe(401)
      expect(body).toEqual({ errors: [{ message: 'Unauthorized', extensions: { code: 'UNAUTHENTICATED' } }] })
    }
    const metrics = await gw.metrics.registry.getSingleMetricAsString('changegate_errors_total')
    expect(metrics).toMatch(/changegate_errors_total\{code="UNAUTHENTICATED"\} [4-9]/)
  })

  it('runs queries with the token tenant in context.auth and the createContext values merged', async () => {
    const token = await toyToken({ tenant: 'globex' })
    const { status, body } = await post(gw, '{ whoami requestTag }', token)
    expect(status).toBe(200)
    expect(body).toEqual({ data: { whoami: 'globex', requestTag: 'from-createContext' } })
  })

  it('serves GraphiQL to a browser without a token, configured for SSE subscriptions', async () => {
    const page = await fetch(gw.url, { headers: { accept: 'text/html' } })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    const html = await page.text()
    expect(html).toContain('renderYogaGraphiQL')
    expect(html).toContain('"subscriptionsProtocol":"SSE"')
  })

  it('pre-fills the GraphiQL headers editor with the given headers', async () => {
    const dev = await startToyGateway({ graphiqlHeaders: { Authorization: 'Bearer dev-token-123' } })
    try {
      const html = await (await fetch(dev.url, { headers: { accept: 'text/html' } })).text()
      expect(html).toContain('dev-token-123')
    } finally {
      await dev.stop()
    }
  })

  it('masks internal errors: generic message, INTERNAL_SERVER_ERROR, no original text; logs the original', async () => {
    const { body } = await post(gw, '{ boom whoami }')
    expect(body.data).toEqual({ boom: null, whoami: 'acme' })
    expect(body.errors).toEqual([
      { message: 'Internal server error', locations: [{ line: 1, column: 3 }], path: ['boom'], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    ])
    expect(JSON.stringify(body)).not.toContain('hunter2')
    expect(JSON.stringify(gw.logs)).toContain(SECRET_TEXT)
  })

  it('passes gateway errors through with their code', async () => {
    const { body } = await post(gw, '{ denied }')
    expect(body.errors).toEqual([
      { message: 'Not allowed here', locations: [{ line: 1, column: 3 }], path: ['denied'], extensions: { code: 'FORBIDDEN' } },
    ])
  })

  it('answers depth, alias and token limits as GraphQL errors with BAD_USER_INPUT', async () => {
    expect((await post(gw, deepQuery(10))).body.data).toBeDefined()
    for (const query of [deepQuery(12), aliasQuery(31), `{ ${'whoami '.repeat(2001)}}`]) {
      const { body } = await post(gw, query)
      expect(body.data ?? undefined).toBeUndefined()
      expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    }
    expect((await post(gw, aliasQuery(30))).body.errors).toBeUndefined()
  })

  it('answers a variable of the wrong shape with BAD_USER_INPUT and the coercion message, not a masked error', async () => {
    const { body } = await post(gw, 'query($v: Int!) { echo(value: $v) }', gw.token, { v: { $gt: '' } })
    expect(body.data ?? undefined).toBeUndefined()
    expect(body.errors).toEqual([
      {
        message: 'Variable "$v" got invalid value { $gt: "" }; Int cannot represent non-integer value: { $gt: "" }',
        locations: [{ line: 1, column: 7 }],
        extensions: { code: 'BAD_USER_INPUT' },
      },
    ])
    expect((await post(gw, 'query($v: Int!) { echo(value: $v) }', gw.token, { v: 7 })).body).toEqual({ data: { echo: 7 } })
  })

  it('gives validation errors a code and keeps field suggestions in dev mode', async () => {
    const { body } = await post(gw, '{ whoam }')
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED')
    expect(body.errors?.[0]?.message).toMatch(/Did you mean "whoami"/)
  })

  it('allows introspection in dev mode', async () => {
    const { body } = await post(gw, '{ __schema { queryType { name } } }')
    expect(body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } })
  })

  it('answers a malformed body with 400 BAD_REQUEST, no stack, and logs no error', async () => {
    const errorLogs = () => gw.logs.filter((l) => (l.level as number) >= 50).length
    const logged = errorLogs()
    const response = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` },
      body: '{"query": "{ whoami }", "variables": {"a": ',
    })
    expect(response.status).toBe(400)
    const body = (await response.json()) as GraphQLBody
    expect(body.errors?.map((e) => [e.message, e.extensions?.code])).toEqual([['POST body sent invalid JSON.', 'BAD_REQUEST']])
    expect(JSON.stringify(body)).not.toMatch(/\bat .*\.(js|ts):\d+/)
    expect(errorLogs()).toBe(logged)
  })

  it('refuses batches', async () => {
    const response = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` },
      body: JSON.stringify([{ query: '{ whoami }' }, { query: '{ whoami }' }]),
    })
    expect(response.status).toBeGreaterThanOrEqual(400)
    expect(JSON.stringify(await response.json())).not.toContain('acme')
  })

  it('blocks simple (non-preflighted) requests without the CSRF header, and allows them with it', async () => {
    const url = `${gw.url}?query=${encodeURIComponent('{ whoami }')}`
    const auth = { authorization: `Bearer ${gw.token}` }
    const blocked = await fetch(url, { headers: { ...auth } })
    expect(blocked.status).toBe(403)
    const form = await fetch(gw.url, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: `query=${encodeURIComponent('{ whoami }')}`,
    })
    expect(form.status).toBe(403)
    const allowed = await fetch(url, { headers: { ...auth, 'x-graphql-yoga-csrf': '1' } })
    expect(allowed.status).toBe(200)
    expect(await allowed.json()).toEqual({ data: { whoami: 'acme' } })
  })

  it('counts the errors it sends by code', async () => {
    await post(gw, '{ boom }')
    const text = await gw.metrics.registry.getSingleMetricAsString('changegate_errors_total')
    expect(text).toMatch(/changegate_errors_total\{code="INTERNAL_SERVER_ERROR"\} [1-9]/)
  })
})

describe('HTTP transport (production)', () => {
  let gw: ToyGateway
  beforeAll(async () => {
    gw = await startToyGateway({ config: { production: true } })
  })
  afterAll(() => gw.stop())

  it('refuses introspection and hides field suggestions', async () => {
    const { body } = await post(gw, '{ __schema { queryType { name } } }')
    expect(body.data ?? undefined).toBeUndefined()
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED')
    expect(body.errors?.[0]?.message).toMatch(/introspection/i)

    const typo = await post(gw, '{ whoam }')
    expect(typo.body.errors?.[0]?.message).not.toContain('whoami')
    expect((await post(gw, '{ __typename whoami }')).body).toEqual({ data: { __typename: 'Query', whoami: 'acme' } })
  })

  it('serves no GraphiQL: a browser GET needs a token like any request', async () => {
    const page = await fetch(gw.url, { headers: { accept: 'text/html' } })
    expect(page.status).toBe(401)
  })

  it('masks internal errors whatever NODE_ENV says', async () => {
    const { body } = await post(gw, '{ boom }')
    expect(body.errors?.[0]).toMatchObject({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } })
    expect(JSON.stringify(body)).not.toContain('hunter2')
  })
})

describe('readiness', () => {
  it('answers 503 with the checks when not ready, and when the check throws', async () => {
    const notReady = await startToyGateway({ readiness: async () => ({ ready: false, checks: { mongodb: false, streams: '1 failed' } }) })
    const throwing = await startToyGateway({
      readiness: async () => {
        throw new Error('boom')
      },
    })
    try {
      const a = await fetch(new URL('/readyz', notReady.url))
      expect(a.status).toBe(503)
      expect(await a.json()).toEqual({ ready: false, checks: { mongodb: false, streams: '1 failed' } })
      const b = await fetch(new URL('/readyz', throwing.url))
      expect(b.status).toBe(503)
      expect(((await b.json()) as { ready: boolean }).ready).toBe(false)
    } finally {
      await notReady.stop()
      await throwing.stop()
    }
  })
})
