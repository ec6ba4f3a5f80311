import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpGraphQL, signToken, type GatewayProcess, spawnGatewayOverMongo } from '../fixtures/gateway.js'
import { type MongoTarget } from '../fixtures/mongo.js'
import { ackedSocket, closeSocket, expectServesWellBehaved, operation, sse, type GraphQLErrorJSON } from './support.js'

const DEEP = `{ ${'a { '.repeat(9_999)}a${' }'.repeat(9_999)} }`
const ALIASES = `{ ${Array.from({ length: 1_000 }, (_, i) => `a${i}: changeCursor`).join(' ')} }`
const ALIASED_SUBSCRIPTION = `subscription { ${Array.from({ length: 1_000 }, (_, i) => `a${i}: orderChanged { documentId }`).join(' ')} }`
const INTROSPECTION = '{ __schema { queryType { name } } }'

interface Outcome {
  status?: number
  data?: unknown
  errors?: GraphQLErrorJSON[]
}

/** One operation over each transport, reduced to what a client sees: data and errors. */
async function overEveryTransport(gw: GatewayProcess, query: string): Promise<Record<'http' | 'sse' | 'ws', Outcome>> {
  const token = await signToken({ tenant: 'acme' })
  const http = await httpGraphQL(gw.url, token, query)
  const stream = await sse(gw.url, token, query)
  const first = stream.events.find((e) => e.event === 'next')?.data ?? (stream.body ? JSON.parse(stream.body) : {})
  const raw = await ackedSocket(gw.wsUrl, token)
  const ws = await operation(raw, 'op', query)
  // The socket survives whatever the operation was.
  expect((await operation(raw, 'after', '{ changeCursor }')).errors).toBeUndefined()
  await closeSocket(raw)
  return {
    http: { status: http.status, data: http.body.data ?? undefined, errors: http.body.errors },
    sse: { status: stream.status, data: first.data ?? undefined, errors: first.errors },
    ws: { data: ws.nexts[0]?.data ?? undefined, errors: ws.errors ?? ws.nexts[0]?.errors },
  }
}

const codes = (outcomes: Record<string, Outcome>) =>
  Object.fromEntries(
    Object.entries(outcomes).map(([transport, o]) => [transport, { status: o.status, data: o.data, code: o.errors?.[0]?.extensions?.code }]),
  )

/** The same outcome on every transport: HTTP and SSE answer 200 (errors are in the GraphQL result), WebSocket has no status. */
const everywhere = (outcome: { data: unknown; code: string | undefined }) => ({
  http: { status: 200, ...outcome },
  sse: { status: 200, ...outcome },
  ws: { status: undefined, ...outcome },
})

describe('query limits and introspection (dev mode)', () => {
  let mongo: MongoTarget
  let gw: GatewayProcess
  beforeAll(async () => {
    ;({ gw, mongo } = await spawnGatewayOverMongo())
  })
  afterAll(async () => {
    await gw?.stop()
    await mongo?.stop()
  })

  const refusedEverywhere = { data: undefined, code: 'BAD_USER_INPUT' }

  it('answers a 10,000-deep query with BAD_USER_INPUT per operation on HTTP, SSE and WebSocket', async () => {
    const outcomes = await overEveryTransport(gw, DEEP)
    expect(codes(outcomes)).toEqual(everywhere(refusedEverywhere))
    for (const o of Object.values(outcomes)) expect(Object.keys(o.errors?.[0]?.extensions ?? {})).toEqual(['code'])
    await expectServesWellBehaved(gw)
  })

  it('answers 1,000-alias queries and subscriptions with BAD_USER_INPUT per operation on every transport', async () => {
    for (const query of [ALIASES, ALIASED_SUBSCRIPTION]) {
      expect(codes(await overEveryTransport(gw, query))).toEqual(everywhere(refusedEverywhere))
    }
    await expectServesWellBehaved(gw)
  })

  it('answers 31 aliases (under the token limit, over the alias limit) with BAD_USER_INPUT', async () => {
    const query = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: changeCursor`).join(' ')} }`
    expect(codes(await overEveryTransport(gw, query))).toEqual(everywhere(refusedEverywhere))
    await expectServesWellBehaved(gw)
  })

  it('allows introspection on every transport', async () => {
    const outcomes = await overEveryTransport(gw, INTROSPECTION)
    const allowed = { data: { __schema: { queryType: { name: 'Query' } } }, code: undefined }
    expect(codes(outcomes)).toEqual(everywhere(allowed))
  })
})

describe('introspection and suggestions (NODE_ENV=production)', () => {
  let mongo: MongoTarget
  let gw: GatewayProcess
  beforeAll(async () => {
    ;({ gw, mongo } = await spawnGatewayOverMongo({ NODE_ENV: 'production' }))
  })
  afterAll(async () => {
    await gw?.stop()
    await mongo?.stop()
  })

  const refused = { data: undefined, code: 'GRAPHQL_VALIDATION_FAILED' }

  it('refuses __schema and __type on HTTP, SSE and WebSocket', async () => {
    for (const query of [INTROSPECTION, '{ __type(name: "Order") { fields { name } } }']) {
      const outcomes = await overEveryTransport(gw, query)
      expect(codes(outcomes)).toEqual(everywhere(refused))
      expect(outcomes.http.errors?.[0]?.message).toMatch(/introspection/i)
    }
    await expectServesWellBehaved(gw)
  })

  it('gives no field suggestions and serves no GraphiQL', async () => {
    const outcomes = await overEveryTransport(gw, '{ changeCursr }')
    expect(codes(outcomes)).toEqual(everywhere(refused))
    for (const o of Object.values(outcomes)) expect(o.errors?.[0]?.message).not.toMatch(/Did you mean|changeCursor/)
    const page = await fetch(gw.url, { headers: { accept: 'text/html' } })
    expect(page.status).toBe(401)
    expect(await page.text()).not.toMatch(/graphiql/i)
    await expectServesWellBehaved(gw)
  })

  it('still enforces the operation limits', async () => {
    const outcomes = await overEveryTransport(gw, DEEP)
    expect(codes(outcomes)).toEqual(everywhere({ data: undefined, code: 'BAD_USER_INPUT' }))
  })
})
