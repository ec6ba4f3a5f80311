import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpGraphQL, signToken, type GatewayProcess, spawnGatewayOverMongo } from '../fixtures/gateway.js'
import { type MongoTarget } from '../fixtures/mongo.js'
import { ackedSocket, closeSocket, expectServesWellBehaved, metric, operation, sse, type GraphQLErrorJSON } from './support.js'

type Transport = 'http' | 'sse' | 'ws'

/** The first error a client sees for one operation on each transport. */
async function firstErrorEverywhere(gw: GatewayProcess, query: string, variables?: Record<string, unknown>): Promise<Record<Transport, GraphQLErrorJSON | undefined>> {
  const token = await signToken({ tenant: 'acme' })
  const http = await httpGraphQL(gw.url, token, query, variables)
  const stream = await sse(gw.url, token, query, variables, 1)
  const first = stream.events.find((e) => e.event === 'next')?.data ?? (stream.body ? JSON.parse(stream.body) : {})
  const raw = await ackedSocket(gw.wsUrl, token)
  const ws = await operation(raw, 'op', query, variables)
  await closeSocket(raw)
  return { http: http.body.errors?.[0], sse: first?.errors?.[0], ws: (ws.errors ?? ws.nexts[0]?.errors)?.[0] }
}

interface Case {
  name: string
  query: string
  variables?: Record<string, unknown>
  code: 'BAD_USER_INPUT' | 'GRAPHQL_VALIDATION_FAILED'
  /** What the request wrote and the message should still say. */
  says: string[]
  /** Schema names the request did not write. */
  hides: RegExp
}

const ORDER_FILTER_QUERY = 'query($f: OrderFilter) { orders(filter: $f) { nodes { status } } }'
const CHANGE_FILTER_SUBSCRIPTION = 'subscription($f: OrderChangeFilter) { orderChanged(filter: $f) { documentId } }'
const EXPLAIN = 'query($q: String!, $v: JSON) { explainSubscription(query: $q, variables: $v) { collection } }'

const cases: Case[] = [
  // Validation.
  { name: 'misspelled root field', query: '{ changeCursr }', code: 'GRAPHQL_VALIDATION_FAILED', says: ['changeCursr'], hides: /changeCursor|Query|Did you mean/ },
  { name: 'misspelled nested field', query: '{ orders { nodes { regoin } } }', code: 'GRAPHQL_VALIDATION_FAILED', says: ['regoin'], hides: /region|"Order"|Did you mean/ },
  {
    name: 'misspelled enum literal',
    query: 'subscription { orderChanged(filter: { status: [SHIPED] }) { documentId } }',
    code: 'GRAPHQL_VALIDATION_FAILED',
    says: ['SHIPED'],
    hides: /SHIPPED|OrderStatus|Did you mean/,
  },
  { name: 'misspelled argument', query: '{ orders(frist: 5) { nodes { status } } }', code: 'GRAPHQL_VALIDATION_FAILED', says: ['frist', 'orders'], hides: /first|Query|Did you mean/ },
  { name: 'missing required argument', query: '{ order { status } }', code: 'GRAPHQL_VALIDATION_FAILED', says: ['order'], hides: /"id"|Query/ },
  {
    name: 'misspelled input field literal',
    query: '{ orders(filter: { regoin: "x" }) { nodes { status } } }',
    code: 'GRAPHQL_VALIDATION_FAILED',
    says: ['regoin'],
    hides: /region|OrderFilter|Did you mean/,
  },
  {
    name: 'variable of the wrong input type',
    query: 'query($f: OrderChangeFilter) { orders(filter: $f) { nodes { status } } }',
    code: 'GRAPHQL_VALIDATION_FAILED',
    says: ['OrderChangeFilter'],
    hides: /"OrderFilter"/,
  },
  { name: 'misspelled variable type', query: 'query($f: OrderFiltr) { orders(filter: $f) { nodes { status } } }', code: 'GRAPHQL_VALIDATION_FAILED', says: ['OrderFiltr'], hides: /OrderFilter\b|Did you mean/ },
  // Variable coercion.
  {
    name: 'misspelled input field in variables',
    query: ORDER_FILTER_QUERY,
    variables: { f: { regoin: 'x' } },
    code: 'BAD_USER_INPUT',
    says: ['regoin', 'OrderFilter'],
    hides: /region|Did you mean/,
  },
  {
    name: 'misspelled enum value in variables',
    query: CHANGE_FILTER_SUBSCRIPTION,
    variables: { f: { status: ['SHIPED'] } },
    code: 'BAD_USER_INPUT',
    says: ['SHIPED', 'f.status'],
    hides: /SHIPPED|OrderStatus|Did you mean/,
  },
  {
    name: 'JSON variable where an input object is expected',
    query: 'query($f: JSON) { orders(filter: $f) { nodes { status } } }',
    code: 'GRAPHQL_VALIDATION_FAILED',
    says: ['JSON'],
    hides: /OrderFilter/,
  },
  // Input checked by resolvers.
  {
    name: 'explained subscription with a misspelled enum',
    query: EXPLAIN,
    variables: { q: 'subscription { orderChanged(filter: { status: [SHIPED] }) { documentId } }' },
    code: 'BAD_USER_INPUT',
    says: ['SHIPED'],
    hides: /SHIPPED|OrderStatus|Did you mean/,
  },
  {
    name: 'explained subscription with misspelled variables',
    query: EXPLAIN,
    variables: { q: 'subscription($f: OrderChangeFilter) { orderChanged(filter: $f) { documentId } }', v: { f: { regoin: 'x' } } },
    code: 'BAD_USER_INPUT',
    says: ['regoin'],
    hides: /region|Did you mean/,
  },
  {
    name: 'filter that selects no operation',
    query: CHANGE_FILTER_SUBSCRIPTION,
    variables: { f: { operationTypes: ['INSERT'], fieldsChanged: ['status'] } },
    code: 'BAD_USER_INPUT',
    says: ['operationTypes', 'fieldsChanged'],
    hides: /UPDATE|REPLACE|statusChangedTo/,
  },
  { name: 'argument literal of the wrong type', query: '{ orders(first: "ten") { nodes { status } } }', code: 'GRAPHQL_VALIDATION_FAILED', says: ['ten'], hides: /Query|OrderPage/ },
  {
    name: 'argument variable of the wrong type',
    query: 'query($n: Int) { orders(first: $n) { nodes { status } } }',
    variables: { n: 'ten' },
    code: 'BAD_USER_INPUT',
    says: ['$n', 'ten'],
    hides: /Query|OrderPage|Did you mean/,
  },
  { name: 'argument out of range', query: '{ orders(first: 0) { nodes { status } } }', code: 'BAD_USER_INPUT', says: ['first'], hides: /Query|OrderPage/ },
  { name: 'invalid id argument', query: '{ order(id: "not-an-id") { status } }', code: 'BAD_USER_INPUT', says: ['id'], hides: /ObjectID|Query/ },
]

describe('schema names in error messages (NODE_ENV=production)', () => {
  let mongo: MongoTarget
  let gw: GatewayProcess
  beforeAll(async () => {
    ;({ gw, mongo } = await spawnGatewayOverMongo({ NODE_ENV: 'production' }))
  })
  afterAll(async () => {
    await gw?.stop()
    await mongo?.stop()
  })

  it.each(cases)('$name: a useful message naming only what the request wrote, on HTTP, SSE and WebSocket', async (c) => {
    const errors = await firstErrorEverywhere(gw, c.query, c.variables)
    for (const [transport, error] of Object.entries(errors)) {
      expect({ transport, code: error?.extensions?.code }).toEqual({ transport, code: c.code })
      for (const said of c.says) expect(error?.message).toContain(said)
      expect(error?.message).not.toMatch(c.hides)
    }
  })

  it('counts none of them as internal errors and keeps serving', async () => {
    expect(await metric(gw, 'changegate_errors_total', 'code="INTERNAL_SERVER_ERROR"')).toBe(0)
    await expectServesWellBehaved(gw)
  })
})

describe('schema names in error messages (dev mode)', () => {
  let mongo: MongoTarget
  let gw: GatewayProcess
  beforeAll(async () => {
    ;({ gw, mongo } = await spawnGatewayOverMongo())
  })
  afterAll(async () => {
    await gw?.stop()
    await mongo?.stop()
  })

  it('still suggests, for developers', async () => {
    const errors = await firstErrorEverywhere(gw, ORDER_FILTER_QUERY, { f: { regoin: 'x' } })
    for (const error of Object.values(errors)) expect(error?.message).toMatch(/Did you mean "region"\?/)
  })
})
