import { once } from 'node:events'
import { createClient, MessageType, stringifyMessage } from 'graphql-ws'
import { GraphQLInt, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql'
import type { Plugin } from 'graphql-yoga'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { slowConsumer } from '../../src/errors.js'
import { createLogger } from '../../src/observability/logger.js'
import { createMetrics } from '../../src/observability/metrics.js'
import { useSharedSubscriptionExecution } from '../../src/schema/shared-execution.js'
import { createAuthenticator } from '../../src/server/auth.js'
import { createGatewayServer, type GatewayServer } from '../../src/server/index.js'
import { createSubscriberQueue, type QueueItem, type SubscriberQueue } from '../../src/streams/subscriber-queue.js'
import { SECRET_TEXT, TOY_CONFIG, TOY_SECRET, toyToken } from '../fixtures/toy-schema.js'

/** A value shared by every subscriber of one selection, as a live aggregate's is: its results are memoised on it. */
interface Shared {
  readonly n: number
  readonly memo: Map<string, unknown>
}

/**
 * Shared subscriptions over the WebSocket take the direct path (src/server/ws-direct.ts) until a result carries an
 * error; from then on their own results iterator serves, and graphql-ws's `onNext` masks what it sends.
 */
describe('a direct WebSocket subscription falling back', () => {
  const queues: Array<SubscriberQueue<Shared>> = []
  const logs: Array<Record<string, unknown>> = []
  let server: GatewayServer
  let wsUrl: string

  beforeAll(async () => {
    const Item = new GraphQLObjectType({
      name: 'Item',
      fields: {
        n: { type: new GraphQLNonNull(GraphQLInt) },
        check: {
          type: GraphQLString,
          resolve: (item: Shared) => {
            if (item.n === 2) throw new Error(`lost ${SECRET_TEXT}`)
            return `ok ${item.n}`
          },
        },
      },
    })
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({ name: 'Query', fields: { ping: { type: GraphQLString, resolve: () => 'pong' } } }),
      subscription: new GraphQLObjectType({
        name: 'Subscription',
        fields: {
          items: {
            type: new GraphQLNonNull(Item),
            subscribe: () => {
              const queue = createSubscriberQueue<Shared>({ capacity: 100, onOverflow: slowConsumer, onClose: () => undefined })
              queues.push(queue)
              return queue
            },
            // The subscription's items are queue items, as the gateway's streams yield them.
            resolve: (item: QueueItem<Shared>) => {
              if (item.error) throw item.error
              return item.value
            },
          },
        },
      }),
    })
    server = createGatewayServer({
      config: TOY_CONFIG,
      schema,
      authenticator: createAuthenticator({ secret: TOY_SECRET }),
      createContext: () => ({}),
      readiness: async () => ({ ready: true, checks: {} }),
      metrics: createMetrics(),
      logger: createLogger({ level: 'debug', nodeId: 'direct', destination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) } }),
      plugins: [useSharedSubscriptionExecution() as Plugin],
    })
    const { url } = await server.listen()
    wsUrl = url.replace(/^http/, 'ws')
  })

  afterAll(() => server.stop())

  it('masks an internal error in a shared result, keeps the order and goes on delivering', async () => {
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${await toyToken()}` },
    })
    const received: unknown[] = []
    const subscription = client.iterate({ query: 'subscription { items { n check } }' })
    const first = subscription.next()
    try {
      await expect.poll(() => queues.length).toBe(1)
      const [queue] = queues
      for (const n of [1, 2, 3, 4]) queue.push({ n, memo: new Map() })
      received.push((await first).value)
      for (let i = 0; i < 3; i++) received.push((await subscription.next()).value)
    } finally {
      await subscription.return?.()
      await client.dispose()
    }
    expect(received).toEqual([
      { data: { items: { n: 1, check: 'ok 1' } } },
      {
        data: { items: { n: 2, check: null } },
        errors: [{ message: 'Internal server error', locations: [{ line: 1, column: 26 }], path: ['items', 'check'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
      },
      { data: { items: { n: 3, check: 'ok 3' } } },
      { data: { items: { n: 4, check: 'ok 4' } } },
    ])
    expect(JSON.stringify(received)).not.toContain('hunter2')
    // The operator sees what the client does not.
    expect(JSON.stringify(logs)).toContain(SECRET_TEXT)
    // Ending the operation ends the subscription's queue.
    await expect.poll(() => queues[0].closed).toBe(true)
  })

  it('logs an internal error of a result shared by many subscribers once, and masks it for each', async () => {
    const secretLines = () => logs.filter((line) => JSON.stringify(line).includes(SECRET_TEXT)).length
    const logged = secretLines()
    const token = await toyToken()
    const clients = [1, 2, 3].map(() => createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } }))
    const before = queues.length
    const subscriptions = clients.map((client) => client.iterate({ query: 'subscription { items { n check } }' }))
    const firsts = subscriptions.map((subscription) => subscription.next())
    const received: unknown[][] = []
    try {
      await expect.poll(() => queues.length).toBe(before + clients.length)
      // The same values in every queue: one result per value, shared by the three subscriptions.
      for (const n of [1, 2, 3]) {
        const value = { n, memo: new Map() }
        for (const queue of queues.slice(before)) queue.push(value)
      }
      for (const [i, subscription] of subscriptions.entries()) {
        received.push([(await firsts[i]).value, (await subscription.next()).value, (await subscription.next()).value])
      }
    } finally {
      await Promise.all(subscriptions.map((subscription) => subscription.return?.()))
      await Promise.all(clients.map((client) => client.dispose()))
    }
    const masked = { message: 'Internal server error', locations: [{ line: 1, column: 26 }], path: ['items', 'check'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }
    for (const results of received) {
      expect(results).toEqual([{ data: { items: { n: 1, check: 'ok 1' } } }, { data: { items: { n: 2, check: null } }, errors: [masked] }, { data: { items: { n: 3, check: 'ok 3' } } }])
    }
    expect(secretLines() - logged).toBe(1)
  })

  it('sends direct results as text frames, byte for byte what graphql-ws would send', async () => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws')
    const frames: Array<{ text: string; binary: boolean }> = []
    socket.on('message', (data: Buffer, binary: boolean) => frames.push({ text: data.toString(), binary }))
    await once(socket, 'open')
    try {
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${await toyToken()}` } }))
      await expect.poll(() => frames.length).toBe(1)
      const before = queues.length
      socket.send(JSON.stringify({ id: 'ü-1', type: 'subscribe', payload: { query: 'subscription { items { n } }' } }))
      await expect.poll(() => queues.length).toBe(before + 1)
      for (const n of [1, 2]) queues[before].push({ n, memo: new Map() })
      await expect.poll(() => frames.length).toBe(3)
    } finally {
      socket.close()
    }
    expect(frames.slice(1)).toEqual(
      [1, 2].map((n) => ({ text: stringifyMessage({ id: 'ü-1', type: MessageType.Next, payload: { data: { items: { n } } } }), binary: false })),
    )
  })
})
