import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SECRET_TEXT, startToyGateway, type ToyGateway } from '../fixtures/toy-schema.js'

interface SSEEvent {
  event: string
  data: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } | null
}

/** Reads a whole `text/event-stream` response (yoga's distinct-connections mode) into its events. */
async function sse(gw: ToyGateway, query: string, init: { method?: 'GET' | 'POST'; token?: string | null; max?: number } = {}) {
  const token = init.token === undefined ? gw.token : init.token
  const headers: Record<string, string> = { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) }
  const response =
    init.method === 'GET'
      ? await fetch(`${gw.url}?query=${encodeURIComponent(query)}`, { headers: { ...headers, 'x-graphql-yoga-csrf': '1' } })
      : await fetch(gw.url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ query }) })
  const events: SSEEvent[] = []
  if (!response.body || !response.headers.get('content-type')?.includes('text/event-stream')) {
    return { status: response.status, contentType: response.headers.get('content-type'), events, body: await response.text() }
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += value
    let end: number
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const lines = block.split('\n').filter((l) => !l.startsWith(':'))
      if (lines.length === 0) continue
      const event = lines.find((l) => l.startsWith('event:'))?.slice(6).trim() ?? 'message'
      const data = lines.find((l) => l.startsWith('data:'))?.slice(5).trim()
      events.push({ event, data: data ? JSON.parse(data) : null })
    }
    if (init.max !== undefined && events.length >= init.max) {
      await reader.cancel()
      break
    }
  }
  return { status: response.status, contentType: response.headers.get('content-type'), events, body: '' }
}

const nexts = (events: SSEEvent[]) => events.filter((e) => e.event === 'next').map((e) => e.data)

describe('SSE transport', () => {
  let gw: ToyGateway
  beforeAll(async () => {
    gw = await startToyGateway()
  })
  afterAll(() => gw.stop())

  it('delivers a subscription over POST and over GET, then completes', async () => {
    for (const method of ['POST', 'GET'] as const) {
      const { status, events } = await sse(gw, 'subscription { ticks(count: 3) }', { method })
      expect(status).toBe(200)
      expect(nexts(events)).toEqual([{ data: { ticks: 1 } }, { data: { ticks: 2 } }, { data: { ticks: 3 } }])
      expect(events.at(-1)?.event).toBe('complete')
    }
  })

  it('refuses a stream without a valid token with 401', async () => {
    for (const token of [null, 'garbage']) {
      const { status, body } = await sse(gw, 'subscription { ticks(count: 1) }', { token })
      expect(status).toBe(401)
      expect(JSON.parse(body)).toEqual({ errors: [{ message: 'Unauthorized', extensions: { code: 'UNAUTHENTICATED' } }] })
    }
  })

  it('masks an internal error thrown by the stream; passes a gateway error with its code', async () => {
    const failing = await sse(gw, 'subscription { failing }')
    const failingData = nexts(failing.events)
    expect(failingData[0]).toEqual({ data: { failing: 1 } })
    expect(failingData[1]?.errors).toEqual([
      { message: 'Internal server error', locations: [{ line: 1, column: 1 }], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    ])
    expect(JSON.stringify(failing.events)).not.toContain('hunter2')
    expect(JSON.stringify(gw.logs)).toContain(SECRET_TEXT)

    const overrun = await sse(gw, 'subscription { overrun }')
    expect(nexts(overrun.events)[1]?.errors?.[0]?.extensions?.code).toBe('SLOW_CONSUMER')
  })

  it('answers limits as errors in the stream', async () => {
    const deep = `{ node { ${'child { '.repeat(12)}value${' }'.repeat(12)} } }`
    const aliases = `subscription { ${Array.from({ length: 31 }, (_, i) => `a${i}: ticks(count: 1)`).join(' ')} }`
    for (const query of [deep, aliases]) {
      const [result] = nexts((await sse(gw, query)).events)
      expect(result?.data ?? undefined).toBeUndefined()
      expect(result?.errors?.map((e) => e.extensions?.code)).toContain('BAD_USER_INPUT')
    }
  })

  it('allows introspection in dev mode', async () => {
    const { events } = await sse(gw, '{ __schema { subscriptionType { name } } }')
    expect(nexts(events)).toEqual([{ data: { __schema: { subscriptionType: { name: 'Subscription' } } } }])
  })

  it('counts an open stream in stats() and ends its generator when the client goes away', async () => {
    const before = gw.probe.floodEnded
    const { events } = await sse(gw, 'subscription { flood { n } }', { max: 5 })
    expect(nexts(events).slice(0, 3)).toEqual([{ data: { flood: { n: 1 } } }, { data: { flood: { n: 2 } } }, { data: { flood: { n: 3 } } }])
    await expect.poll(() => gw.probe.floodEnded, { timeout: 5000 }).toBe(before + 1)
    await expect.poll(() => gw.server.stats().subscriptions).toBe(0)
  })
})

describe('SSE transport (production)', () => {
  let gw: ToyGateway
  beforeAll(async () => {
    gw = await startToyGateway({ config: { production: true } })
  })
  afterAll(() => gw.stop())

  it('refuses introspection', async () => {
    const { events } = await sse(gw, '{ __schema { subscriptionType { name } } }')
    const [result] = nexts(events)
    expect(result?.data ?? undefined).toBeUndefined()
    expect(result?.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED')
  })
})
