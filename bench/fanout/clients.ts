/**
 * WebSocket load generator for the fan-out benchmark: one process holding every connection, speaking the
 * graphql-transport-ws protocol directly on `ws` (no client library between the socket and the count). Each
 * `next` is decoded into (subscription, phase, seq, createdAt) and tallied with its receive time.
 * Usage (as a worker): clients.ts
 */
import WebSocket from 'ws'
import { openAcknowledged } from '../lib/graphql-ws-client.js'
import { serveWorker } from '../lib/worker.js'
import { createLayout, customerHex, customerOfSubscription, decodeOrderHex, ORDER_SUBSCRIPTION, tenantOfConnection, type Layout } from './layout.js'
import type { CollectRequest, CollectResult, ConnectRequest, ConnectResult } from './protocol.js'
import { createTally, type Tally } from './tally.js'

interface NextPayload {
  readonly data?: { readonly orderChanged?: { readonly documentId: string; readonly order: { readonly createdAt: string } | null } }
  readonly errors?: ReadonlyArray<{ readonly extensions?: { readonly code?: string } }>
}

interface Message {
  readonly type: string
  readonly id?: string
  readonly payload?: unknown
}

let layout: Layout | undefined
let sockets: WebSocket[] = []
let tally: Tally | undefined
let unparsed = 0
/** Sockets the server closed after the handshake. */
let dropped = 0

function onMessage(socket: WebSocket, data: WebSocket.RawData): void {
  const receivedAt = Date.now()
  const message = JSON.parse(data.toString()) as Message
  switch (message.type) {
    case 'next': {
      const member = Number(message.id)
      const payload = message.payload as NextPayload
      const event = payload.data?.orderChanged
      const id = event ? decodeOrderHex(event.documentId) : undefined
      if (id && event?.order) tally!.record(member, id.phase, id.seq, Date.parse(event.order.createdAt), receivedAt)
      else if (payload.errors?.length) tally!.end(member, payload.errors[0].extensions?.code ?? 'UNKNOWN')
      else unparsed++
      return
    }
    case 'error':
      tally!.end(Number(message.id), (message.payload as NextPayload['errors'])?.[0]?.extensions?.code ?? 'ERROR')
      return
    case 'complete':
      tally!.end(Number(message.id), 'COMPLETE')
      return
    case 'ping':
      socket.send('{"type":"pong"}')
      return
  }
}

function open(url: string, token: string): Promise<WebSocket> {
  return openAcknowledged(url, token, {
    onMessage,
    onClose: (socket) => {
      if (sockets.includes(socket)) dropped++
    },
  })
}

async function connect({ url, layout: options, tokens, concurrency }: ConnectRequest): Promise<ConnectResult> {
  if (sockets.length) throw new Error('already connected')
  const l = (layout = createLayout(options))
  const customers = new Int32Array(l.subscriptions)
  for (let g = 0; g < l.subscriptions; g++) customers[g] = customerOfSubscription(l, g)
  tally = createTally(customers, l.customers)
  unparsed = 0
  dropped = 0
  const started = performance.now()
  const opened: WebSocket[] = new Array<WebSocket>(l.connections)
  let next = 0
  const lane = async () => {
    while (next < l.connections) {
      const c = next++
      opened[c] = await open(url, tokens[tenantOfConnection(l, c)])
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, l.connections) }, lane))
  } catch (error) {
    for (const socket of opened) socket?.terminate()
    throw error
  }
  sockets = opened
  return { connected: sockets.length, ms: performance.now() - started }
}

/** Sends every subscription; the server's own count tells when they are all live. */
function subscribe(): number {
  const l = layout!
  for (let c = 0; c < sockets.length; c++) {
    for (let slot = 0; slot < l.subscriptionsPerConnection; slot++) {
      const g = c * l.subscriptionsPerConnection + slot
      const variables = { customerId: customerHex(customerOfSubscription(l, g)) }
      sockets[c].send(JSON.stringify({ id: String(g), type: 'subscribe', payload: { query: ORDER_SUBSCRIPTION, variables } }))
    }
  }
  return l.subscriptions
}

async function collect({ phase, writes, idleMs, timeoutMs, windowMs }: CollectRequest): Promise<CollectResult> {
  const result = await tally!.collect(phase, writes, idleMs, timeoutMs, windowMs)
  return { ...result, ended: { ...tally!.ended(), ...(unparsed ? { UNPARSED: unparsed } : {}), ...(dropped ? { SOCKET_CLOSED: dropped } : {}) } }
}

async function close(): Promise<void> {
  const closing = sockets.map((socket) => new Promise<void>((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve()
    socket.once('close', () => resolve())
    socket.close(1000)
    setTimeout(() => {
      socket.terminate()
      resolve()
    }, 2000).unref()
  }))
  sockets = []
  await Promise.all(closing)
}

serveWorker({
  connect,
  subscribe,
  reached: (phase: number) => tally?.reached(phase) ?? 0,
  collect,
  close,
})
