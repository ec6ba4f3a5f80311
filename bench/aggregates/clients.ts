/**
 * WebSocket load generator for the live aggregates benchmark: one process holding every connection, speaking
 * graphql-transport-ws directly on `ws`. In the aggregates mode each subscription is an `orderAggregate` panel and
 * the client only decodes the value; in the baseline mode each is `orderChanged` for the same `where`, and the
 * client keeps the panel's totals itself (client-totals.ts). Both record, per value or event, the commit its cursor
 * stands for and when it arrived.
 * Usage (as a worker): clients.ts
 */
import WebSocket from 'ws'
import { openAcknowledged } from '../lib/graphql-ws-client.js'
import { serveWorker } from '../lib/worker.js'
import { createClientTotals, type ChangeEvent, type ClientTotals } from './client-totals.js'
import { AGGREGATE_SUBSCRIPTION, CHANGES_SUBSCRIPTION, combinationOf, createLayout, cursorCommit, tenantOfConnection, type Layout } from './layout.js'
import type { ConnectRequest, Mode, PhaseSamples, ReceiverCounts } from './protocol.js'

interface Message {
  readonly type: string
  readonly id?: string
  readonly payload?: {
    readonly data?: { readonly orderAggregate?: { readonly cursor: string }; readonly orderChanged?: ChangeEvent & { readonly cursor: string } }
    readonly errors?: ReadonlyArray<{ readonly extensions?: { readonly code?: string } }>
  }
}

const HANDSHAKE_CONCURRENCY = 50

let layout: Layout | undefined
let mode: Mode = 'aggregates'
let throttleMs: number | null = null
let sockets: WebSocket[] = []
/** Per subscription (connection × slot): the last commit it saw, whether it got anything, its client-side totals. */
let lastCommit = new Float64Array(0)
let reached = new Uint8Array(0)
let totals: ClientTotals[] = []

let messages = 0
let bytes = 0
let values = 0
let dropped = 0
let lastAt = 0
let maxCommit = Number.NaN
let ended: Record<string, number> = {}
let commits: number[] = []
let receivedAt: number[] = []

function end(code: string): void {
  ended[code] = (ended[code] ?? 0) + 1
}

function onMessage(socket: WebSocket, data: WebSocket.RawData): void {
  const now = Date.now()
  const text = data.toString()
  messages++
  bytes += Buffer.byteLength(text)
  lastAt = now
  const message = JSON.parse(text) as Message
  switch (message.type) {
    case 'next': {
      values++
      const member = Number(message.id)
      reached[member] = 1
      const { data: result, errors } = message.payload ?? {}
      if (errors?.length) return end(errors[0].extensions?.code ?? 'UNKNOWN')
      const cursor = result?.orderAggregate?.cursor ?? result?.orderChanged?.cursor
      if (!cursor) return end('UNPARSED')
      if (result?.orderChanged) totals[member].apply(result.orderChanged)
      const commit = cursorCommit(cursor)
      if (Number.isNaN(commit) || commit === lastCommit[member]) return
      lastCommit[member] = commit
      if (!(commit <= maxCommit)) maxCommit = commit
      commits.push(commit)
      receivedAt.push(now)
      return
    }
    case 'error':
      return end(message.payload?.errors?.[0]?.extensions?.code ?? 'ERROR')
    case 'complete':
      return end('COMPLETE')
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

async function connect(request: ConnectRequest): Promise<number> {
  if (sockets.length) throw new Error('already connected')
  const l = (layout = createLayout(request.layout))
  mode = request.mode
  throttleMs = request.throttleMs
  lastCommit = new Float64Array(l.subscriptions).fill(Number.NaN)
  reached = new Uint8Array(l.subscriptions)
  totals = []
  for (let c = 0; c < l.connections; c++) {
    for (let slot = 0; slot < l.subscriptionsPerConnection; slot++) totals.push(createClientTotals(l.list[combinationOf(l, c, slot)]))
  }
  const opened: WebSocket[] = new Array<WebSocket>(l.connections)
  let next = 0
  const lane = async () => {
    while (next < l.connections) {
      const c = next++
      opened[c] = await open(request.url, request.tokens[tenantOfConnection(l, c)])
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(HANDSHAKE_CONCURRENCY, l.connections) }, lane))
  } catch (error) {
    for (const socket of opened) socket?.terminate()
    throw error
  }
  sockets = opened
  return sockets.length
}

/** Sends every subscription (ids are the subscription's number). */
function subscribe(): number {
  const l = layout!
  for (let c = 0; c < sockets.length; c++) {
    for (let slot = 0; slot < l.subscriptionsPerConnection; slot++) {
      const g = c * l.subscriptionsPerConnection + slot
      const combination = l.list[combinationOf(l, c, slot)]
      const payload =
        mode === 'aggregates'
          ? { query: AGGREGATE_SUBSCRIPTION, variables: { where: combination.where, groupBy: combination.groupBy, window: combination.window, throttleMs } }
          : { query: CHANGES_SUBSCRIPTION, variables: { where: combination.where } }
      sockets[c].send(JSON.stringify({ id: String(g), type: 'subscribe', payload }))
    }
  }
  return l.subscriptions
}

function counts(): ReceiverCounts {
  let n = 0
  for (const r of reached) n += r
  return { messages, bytes, values, reached: n, ended: { ...ended }, dropped, lastAt, maxCommit }
}

/** Starts a measured phase: counters and samples from zero. */
function reset(): void {
  messages = 0
  bytes = 0
  values = 0
  ended = {}
  dropped = 0
  commits = []
  receivedAt = []
}

function samples(): PhaseSamples {
  let clientTotals = 0
  if (mode === 'baseline') for (const t of totals) clientTotals += t.size
  return { ...counts(), commits: Float64Array.from(commits), receivedAt: Float64Array.from(receivedAt), clientTotals }
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

serveWorker({ connect, subscribe, counts, reset, samples, close })
