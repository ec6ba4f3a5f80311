import { once } from 'node:events'
import { createClient, type Client } from 'graphql-ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { SECRET_TEXT, startToyGateway, toyToken, type ToyGateway } from '../fixtures/toy-schema.js'

interface Result {
  data?: Record<string, unknown> | null
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>
}

function client(gw: ToyGateway, token: string | null = gw.token, onClosed?: (event: { code: number; reason: string }) => void): Client {
  return createClient({
    url: gw.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    on: {
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string }
        onClosed?.({ code, reason })
      },
    },
    onNonLazyError: () => undefined,
  })
}

/** Runs one operation to its end: every `next` payload, or the per-operation error list. */
async function run(c: Client, query: string): Promise<{ results: Result[]; error?: Result['errors'] }> {
  const results: Result[] = []
  try {
    for await (const result of c.iterate({ query })) results.push(result as Result)
    return { results }
  } catch (error) {
    return { results, error: error as Result['errors'] }
  }
}

/** A raw graphql-transport-ws socket, for what the client library hides (close codes, frames). */
async function rawSocket(gw: ToyGateway, headers: Record<string, string> = {}) {
  const socket = new WebSocket(gw.wsUrl, 'graphql-transport-ws', { headers })
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  socket.on('error', () => undefined)
  await once(socket, 'open')
  return { socket, closed }
}

/** The HTTP status a handshake was refused with, or 101 when it was accepted. */
function handshakeStatus(gw: ToyGateway, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(gw.wsUrl, 'graphql-transport-ws', { headers })
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
      socket.terminate()
    })
    socket.once('open', () => {
      resolve(101)
      socket.close()
    })
    socket.once('error', reject)
  })
}

const deepQuery = `{ node { ${'child { '.repeat(12)}value${' }'.repeat(12)} } }`
const aliasQuery = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: whoami`).join(' ')} }`

describe('WebSocket transport', () => {
  let gw: ToyGateway
  beforeAll(async () => {
    gw = await startToyGateway({ config: { maxSubscriptionsPerSocket: 2, maxPayloadBytes: 8192, connectionInitTimeoutMs: 300 } })
  })
  afterAll(() => gw.stop())

  it('delivers subscriptions and queries to a client with a good token', async () => {
    const c = client(gw, await toyToken({ tenant: 'globex' }))
    try {
      expect((await run(c, 'subscription { ticks(count: 3) }')).results).toEqual([{ data: { ticks: 1 } }, { data: { ticks: 2 } }, { data: { ticks: 3 } }])
      expect((await run(c, '{ whoami requestTag }')).results).toEqual([{ data: { whoami: 'globex', requestTag: 'from-createContext' } }])
    } finally {
      await c.dispose()
    }
  })

  it('closes with 4403 "Forbidden" for a missing, bad, expired or forged token', async () => {
    const tokens = [
      undefined,
      'Bearer nonsense',
      `Bearer ${await toyToken({}, -5)}`,
      `Bearer ${await toyToken({}, 3600, 'some-other-secret-some-other-secret-0000')}`,
    ]
    for (const authorization of tokens) {
      const { socket, closed } = await rawSocket(gw)
      socket.send(JSON.stringify({ type: 'connection_init', payload: authorization ? { authorization } : undefined }))
      expect(await closed).toEqual({ code: 4403, reason: 'Forbidden' })
    }
  })

  it('accepts the GraphiQL-style capitalised Authorization key', async () => {
    const { socket, closed } = await rawSocket(gw)
    const ack = once(socket, 'message')
    socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${gw.token}` } }))
    expect(JSON.parse(String((await ack)[0]))).toEqual({ type: 'connection_ack' })
    socket.close(1000)
    await closed
  })

  it('closes with 4408 a socket that sends no connection_init in time', async () => {
    const { closed } = await rawSocket(gw)
    expect((await closed).code).toBe(4408)
  })

  it('refuses a foreign Origin with HTTP 403 at the upgrade; same origin and no Origin are allowed', async () => {
    expect(await handshakeStatus(gw, { origin: 'https://evil.example' })).toBe(403)
    expect(await handshakeStatus(gw, { origin: gw.origin })).toBe(101)
    expect(await handshakeStatus(gw, {})).toBe(101)
  })

  it('closes a socket that sends an oversize frame with 1009; other sockets keep working', async () => {
    const bystander = client(gw)
    const { socket, closed } = await rawSocket(gw)
    try {
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${gw.token}`, pad: 'x'.repeat(9000) } }))
      expect((await closed).code).toBe(1009)
      expect((await run(bystander, '{ whoami }')).results).toEqual([{ data: { whoami: 'acme' } }])
    } finally {
      await bystander.dispose()
    }
  })

  it('answers the subscription over the limit with a SUBSCRIPTION_LIMIT error and keeps the socket usable', async () => {
    const c = client(gw)
    try {
      const long = 'subscription { ticks(count: 1000, intervalMs: 20) }'
      const seen: number[] = []
      const disposers = [1, 2].map(() => c.subscribe({ query: long }, { next: () => void seen.push(1), error: () => undefined, complete: () => undefined }))
      await expect.poll(() => gw.server.stats().subscriptions).toBe(2)

      const refused = await run(c, long)
      expect(refused.error?.[0]).toMatchObject({ extensions: { code: 'SUBSCRIPTION_LIMIT' } })
      // Queries do not count against the limit, and the socket is still open.
      expect((await run(c, '{ whoami }')).results).toEqual([{ data: { whoami: 'acme' } }])

      disposers[0]()
      await expect.poll(() => gw.server.stats().subscriptions).toBe(1)
      const next = await run(c, 'subscription { ticks(count: 2) }')
      expect(next.results).toEqual([{ data: { ticks: 1 } }, { data: { ticks: 2 } }])
      disposers[1]()
      expect(seen.length).toBeGreaterThan(0)
    } finally {
      await c.dispose()
    }
  })

  it('masks internal errors from resolvers and streams; passes gateway errors with their code', async () => {
    const c = client(gw)
    try {
      const boom = await run(c, '{ boom }')
      expect(boom.results[0]?.errors).toEqual([
        { message: 'Internal server error', locations: [{ line: 1, column: 3 }], path: ['boom'], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
      ])
      const failing = await run(c, 'subscription { failing }')
      expect(failing.results).toEqual([{ data: { failing: 1 } }])
      expect(failing.error).toEqual([{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }])
      expect(JSON.stringify([boom, failing])).not.toContain('hunter2')
      expect(JSON.stringify(gw.logs)).toContain(SECRET_TEXT)

      const overrun = await run(c, 'subscription { overrun }')
      expect(overrun.error?.[0]?.extensions?.code).toBe('SLOW_CONSUMER')
      const denied = await run(c, '{ denied }')
      expect(denied.results[0]?.errors?.[0]).toMatchObject({ message: 'Not allowed here', extensions: { code: 'FORBIDDEN' } })
    } finally {
      await c.dispose()
    }
  })

  it('answers depth, alias, token limits and syntax errors per operation, without closing the socket', async () => {
    let closedWith: number | undefined
    const c = client(gw, gw.token, (e) => (closedWith = e.code))
    try {
      for (const query of [deepQuery, aliasQuery, `{ ${'a '.repeat(2001)}}`]) {
        const { error } = await run(c, query)
        expect(error?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
      }
      const syntax = await run(c, '{ whoami ')
      expect(syntax.error?.[0]?.message).toMatch(/Syntax Error/)
      expect((await run(c, '{ whoami }')).results).toEqual([{ data: { whoami: 'acme' } }])
      expect(closedWith).toBeUndefined()
    } finally {
      await c.dispose()
    }
  })

  it('answers a subscription variable of the wrong shape with BAD_USER_INPUT, not a masked error', async () => {
    const c = client(gw)
    try {
      const results: Result[] = []
      for await (const r of c.iterate({ query: 'subscription($n: Int!) { ticks(count: $n) }', variables: { n: { $ne: null } } })) {
        results.push(r as Result)
      }
      expect(results).toEqual([
        {
          errors: [
            {
              message: 'Variable "$n" got invalid value { $ne: null }; Int cannot represent non-integer value: { $ne: null }',
              locations: [{ line: 1, column: 14 }],
              extensions: { code: 'BAD_USER_INPUT' },
            },
          ],
        },
      ])
    } finally {
      await c.dispose()
    }
  })

  it('allows introspection in dev mode', async () => {
    const c = client(gw)
    try {
      expect((await run(c, '{ __schema { queryType { name } } }')).results).toEqual([{ data: { __schema: { queryType: { name: 'Query' } } } }])
    } finally {
      await c.dispose()
    }
  })

  it('keeps wsConnections and stats() accurate', async () => {
    await expect.poll(() => gw.server.stats().connections).toBe(0)
    const c = client(gw)
    await run(c, '{ whoami }')
    expect(gw.server.stats().connections).toBe(1)
    expect((await gw.metrics.wsConnections.get()).values[0]?.value).toBe(1)
    await c.dispose()
    await expect.poll(() => gw.server.stats().connections).toBe(0)
    expect((await gw.metrics.wsConnections.get()).values[0]?.value).toBe(0)
  })
})

describe('WebSocket token expiry', () => {
  it('closes the socket with 4403 "Forbidden" when the token expires, ending its subscriptions', async () => {
    expect.assertions(3)
    const gw = await startToyGateway()
    try {
      const before = gw.probe.ticksEnded
      const token = await toyToken({}, 2)
      const started = Date.now()
      const closed = new Promise<{ code: number; reason: string }>((resolve) => {
        const expiring = client(gw, token, resolve)
        expiring.subscribe({ query: 'subscription { ticks(count: 100000, intervalMs: 50) }' }, { next: () => undefined, error: () => undefined, complete: () => undefined })
      })
      expect(await closed).toEqual({ code: 4403, reason: 'Forbidden' })
      expect(Date.now() - started).toBeLessThan(4000)
      await expect.poll(() => gw.probe.ticksEnded).toBe(before + 1)
    } finally {
      await gw.stop()
    }
  })

  it('keeps a socket whose token expires beyond the longest Node timer (30 days) open, beside one that expires', async () => {
    const gw = await startToyGateway()
    try {
      const events: string[] = []
      const lasting = client(gw, await toyToken({}, 30 * 24 * 3600), () => events.push('lasting closed'))
      await run(lasting, '{ whoami }')
      const shortToken = await toyToken({}, 1)
      const expiring = await new Promise<{ code: number; reason: string }>((resolve) => void run(client(gw, shortToken, resolve), '{ whoami }'))
      expect(expiring).toEqual({ code: 4403, reason: 'Forbidden' })
      expect((await run(lasting, '{ whoami }')).error).toBeUndefined()
      expect(events).toEqual([])
      await lasting.dispose()
    } finally {
      await gw.stop()
    }
  })
})

describe('WebSocket transport (production)', () => {
  let gw: ToyGateway
  beforeAll(async () => {
    gw = await startToyGateway({ config: { production: true, allowedOrigins: ['https://app.example.com'] } })
  })
  afterAll(() => gw.stop())

  it('refuses introspection', async () => {
    const c = client(gw)
    try {
      const { error } = await run(c, '{ __schema { queryType { name } } }')
      expect(error?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED')
      expect(error?.[0]?.extensions).not.toHaveProperty('http')
    } finally {
      await c.dispose()
    }
  })

  it('allows only listed origins (and clients without Origin)', async () => {
    expect(await handshakeStatus(gw, { origin: 'https://app.example.com' })).toBe(101)
    expect(await handshakeStatus(gw, { origin: gw.origin })).toBe(403)
    expect(await handshakeStatus(gw, {})).toBe(101)
  })
})

describe('stop()', () => {
  it('closes sockets with 1001, ends their subscriptions and releases the port', async () => {
    expect.assertions(4)
    const gw = await startToyGateway()
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      const c = client(gw, gw.token, resolve)
      c.subscribe({ query: 'subscription { ticks(count: 100000, intervalMs: 20) }' }, { next: () => undefined, error: () => undefined, complete: () => undefined })
    })
    await expect.poll(() => gw.server.stats().subscriptions).toBe(1)
    await gw.stop()
    expect((await closed).code).toBe(1001)
    expect(gw.probe.ticksEnded).toBe(1)
    await expect(fetch(new URL('/healthz', gw.url))).rejects.toThrow()
  })
})
