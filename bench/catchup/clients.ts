/**
 * Client process of the catch-up benchmark: the live subscribers (measured commit-to-client) and the resumers
 * (subscribe, leave with their last cursor, resubscribe with `after:` it), speaking graphql-transport-ws on `ws`.
 * Every receipt is tallied per subscriber (exactly once against the writer's sequence numbers), and each resumer's
 * way back to live is timed. Usage (as a worker): clients.ts
 */
import WebSocket from 'ws'
import { createSamples, summarize, type LatencySummary } from '../lib/stats.js'
import { openAcknowledged } from '../lib/graphql-ws-client.js'
import { serveWorker } from '../lib/worker.js'
import { createLayout, customerHex, customerOfSubscription, decodeOrderHex, ORDER_SUBSCRIPTION, tenantOfConnection, tenantOfCustomer, type Layout } from '../fanout/layout.js'
import { createTally, type Tally } from '../fanout/tally.js'
import type { CollectRequest, CollectResult, ConnectRequest, ConnectResult, Progress, ResumerSummary, TimelineBucket } from './protocol.js'

const RESUMER_SUBSCRIPTION =
  'subscription CatchUp($customerId: ID!, $after: Cursor) { orderChanged(filter: { customerId: $customerId }, after: $after) { documentId cursor order { createdAt } } }'

interface OrderEvent {
  readonly documentId: string
  readonly cursor?: string
  readonly order: { readonly createdAt: string } | null
}

interface Message {
  readonly type: string
  readonly id?: string
  readonly payload?: { readonly data?: { readonly orderChanged?: OrderEvent }; readonly errors?: ReadonlyArray<{ readonly extensions?: { readonly code?: string } }> } & ReadonlyArray<{ readonly extensions?: { readonly code?: string } }>
}

/** Growable (time, value) pairs. */
function createSeries() {
  let times = new Float64Array(1 << 16)
  let values = new Float64Array(1 << 16)
  let length = 0
  return {
    add(time: number, value: number) {
      if (length === times.length) {
        const t = new Float64Array(length * 2)
        const v = new Float64Array(length * 2)
        t.set(times)
        v.set(values)
        times = t
        values = v
      }
      times[length] = time
      values[length++] = value
    },
    /** Values of the pairs whose time is in [from, to). */
    between(from: number, to: number): LatencySummary {
      const s = createSamples()
      for (let i = 0; i < length; i++) if (times[i] >= from && times[i] < to) s.add(values[i])
      return s.summarize()
    },
    get times() {
      return times.subarray(0, length)
    },
    get values() {
      return values.subarray(0, length)
    },
  }
}

interface Resumer {
  readonly customer: number
  readonly socket: number
  cursor?: string
  resumedAt: number
  firstAt: number
  lastReplayAt: number
  liveAt: number
  liveLatency: number
  replayed: number
  beforeCursor: number
}

let layout: Layout | undefined
let liveSockets: WebSocket[] = []
let resumerSockets: WebSocket[] = []
let resumers: Resumer[] = []
let liveTally: Tally | undefined
let resumerTally: Tally | undefined
let measuredPhase = -1
let liveSeries = createSeries()
let resumerSeries = createSeries()
const liveEnded = new Map<number, string>()
const resumerEnded = new Map<number, string>()
let unparsed = 0
let dropped = 0

const errorCode = (message: Message): string => {
  const errors = message.type === 'error' ? message.payload : message.payload?.errors
  return (Array.isArray(errors) ? (errors[0] as { extensions?: { code?: string } } | undefined)?.extensions?.code : undefined) ?? message.type.toUpperCase()
}

function onLive(member: number, event: OrderEvent, receivedAt: number): void {
  const id = decodeOrderHex(event.documentId)
  if (!id || !event.order) return void unparsed++
  const createdAt = Date.parse(event.order.createdAt)
  liveTally!.record(member, id.phase, id.seq, createdAt, receivedAt)
  if (id.phase === measuredPhase) liveSeries.add(receivedAt, receivedAt - createdAt)
}

function onResumer(r: number, resumed: boolean, event: OrderEvent, receivedAt: number): void {
  const id = decodeOrderHex(event.documentId)
  if (!id || !event.order) return void unparsed++
  const createdAt = Date.parse(event.order.createdAt)
  const resumer = resumers[r]
  resumerTally!.record(r, id.phase, id.seq, createdAt, receivedAt)
  if (!resumed) {
    resumer.cursor = event.cursor
    return
  }
  if (id.phase !== measuredPhase) {
    resumer.beforeCursor++
    return
  }
  resumerSeries.add(receivedAt, receivedAt - createdAt)
  if (!resumer.firstAt) resumer.firstAt = receivedAt
  if (createdAt < resumer.resumedAt) {
    resumer.replayed++
    resumer.lastReplayAt = receivedAt
  } else if (!resumer.liveAt) {
    resumer.liveAt = receivedAt
    resumer.liveLatency = receivedAt - createdAt
  }
}

function onMessage(socket: WebSocket, data: WebSocket.RawData): void {
  const receivedAt = Date.now()
  const message = JSON.parse(data.toString()) as Message
  if (message.type === 'ping') return void socket.send('{"type":"pong"}')
  const id = message.id ?? ''
  const resumer = id.startsWith('r') || id.startsWith('s')
  const index = Number(resumer ? id.slice(1) : id)
  if (message.type === 'next' && message.payload?.data?.orderChanged) {
    const event = message.payload.data.orderChanged
    if (resumer) onResumer(index, id.startsWith('s'), event, receivedAt)
    else onLive(index, event, receivedAt)
  } else if (message.type === 'next' || message.type === 'error' || message.type === 'complete') {
    // A complete for a subscription the client completed itself (a resumer leaving) is not an end.
    if (id.startsWith('r')) return
    const ended = resumer ? resumerEnded : liveEnded
    if (!ended.has(index)) ended.set(index, message.type === 'complete' ? 'COMPLETE' : errorCode(message))
  }
}

function open(url: string, token: string): Promise<WebSocket> {
  return openAcknowledged(url, token, {
    onMessage,
    onClose: () => dropped++,
  })
}

async function openAll(url: string, tokens: readonly string[], concurrency: number): Promise<WebSocket[]> {
  const opened: WebSocket[] = []
  let next = 0
  const lane = async () => {
    while (next < tokens.length) {
      const i = next++
      opened[i] = await open(url, tokens[i])
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, tokens.length) }, lane))
  } catch (error) {
    for (const socket of opened) socket?.terminate()
    throw error
  }
  return opened
}

async function connect(request: ConnectRequest): Promise<ConnectResult> {
  if (liveSockets.length) throw new Error('already connected')
  const l = (layout = createLayout(request.layout))
  const started = performance.now()
  const liveCustomers = new Int32Array(l.subscriptions)
  for (let g = 0; g < l.subscriptions; g++) liveCustomers[g] = customerOfSubscription(l, g)
  liveTally = createTally(liveCustomers, l.customers)
  const liveTokens = Array.from({ length: l.connections }, (_, c) => request.tokens[tenantOfConnection(l, c)])
  liveSockets = await openAll(request.url, liveTokens, request.concurrency)

  // Resumer r watches customer r % customers; the resumers of one tenant share sockets, perConnection to a socket.
  const resumerCustomers = new Int32Array(request.resumers)
  const resumerTokens: string[] = []
  const byTenant = l.tenants.map(() => [] as number[])
  for (let r = 0; r < request.resumers; r++) {
    resumerCustomers[r] = r % l.customers
    byTenant[tenantOfCustomer(l, resumerCustomers[r])].push(r)
  }
  const socketOf = new Int32Array(request.resumers)
  byTenant.forEach((members, tenant) => {
    for (let i = 0; i < members.length; i++) {
      if (i % l.subscriptionsPerConnection === 0) resumerTokens.push(request.tokens[tenant])
      socketOf[members[i]] = resumerTokens.length - 1
    }
  })
  resumers = Array.from({ length: request.resumers }, (_, r) => ({
    customer: resumerCustomers[r],
    socket: socketOf[r],
    resumedAt: 0,
    firstAt: 0,
    lastReplayAt: 0,
    liveAt: 0,
    liveLatency: 0,
    replayed: 0,
    beforeCursor: 0,
  }))
  resumerTally = createTally(resumerCustomers, l.customers)
  resumerSockets = await openAll(request.url, resumerTokens, request.concurrency)
  return { liveSockets: liveSockets.length, resumerSockets: resumerSockets.length, ms: performance.now() - started }
}

const subscribeMessage = (id: string, query: string, variables: Record<string, string>) => JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })

/** Starts every live subscription and every resumer's first subscription. */
function subscribe(): number {
  const l = layout!
  for (let g = 0; g < l.subscriptions; g++) {
    const socket = liveSockets[Math.floor(g / l.subscriptionsPerConnection)]
    socket.send(subscribeMessage(String(g), ORDER_SUBSCRIPTION, { customerId: customerHex(customerOfSubscription(l, g)) }))
  }
  resumers.forEach((resumer, r) => {
    resumerSockets[resumer.socket].send(subscribeMessage(`r${r}`, RESUMER_SUBSCRIPTION, { customerId: customerHex(resumer.customer) }))
  })
  return l.subscriptions + resumers.length
}

const reached = (phase: number) => liveTally!.reached(phase) + resumerTally!.reached(phase)

/** Waits until every resumer holds every write of `phase`; the resumers' tally of it. */
const settle = (payload: { phase: number; writes: number; idleMs: number; timeoutMs: number }) =>
  resumerTally!.collect(payload.phase, payload.writes, payload.idleMs, payload.timeoutMs, 60_000)

/** Every resumer completes its subscription, keeping the cursor of the last event it received. */
function leave(): number {
  let withCursor = 0
  resumers.forEach((resumer, r) => {
    if (resumer.cursor) withCursor++
    resumerSockets[resumer.socket].send(JSON.stringify({ id: `r${r}`, type: 'complete' }))
  })
  return withCursor
}

/** Every resumer subscribes again at once with `after:` its cursor; the epoch ms the first one was sent. */
function resume(phase: number): number {
  measuredPhase = phase
  const startedAt = Date.now()
  resumers.forEach((resumer, r) => {
    resumer.resumedAt = Date.now()
    resumerSockets[resumer.socket].send(subscribeMessage(`s${r}`, RESUMER_SUBSCRIPTION, { customerId: customerHex(resumer.customer), after: resumer.cursor! }))
  })
  return startedAt
}

/** Starts recording live latency for `phase` (the measured one). */
function measure(phase: number): void {
  measuredPhase = phase
  liveSeries = createSeries()
  resumerSeries = createSeries()
}

function progress(): Progress {
  let resumed = 0
  let live = 0
  for (const resumer of resumers) {
    if (resumer.resumedAt) resumed++
    if (resumer.liveAt) live++
  }
  return { resumed, live, ended: resumerEnded.size }
}

const BUCKET_MS = 1_000

function timeline(resumeAt: number): TimelineBucket[] {
  const buckets = new Map<number, { live: ReturnType<typeof createSamples>; resumers: number }>()
  const bucket = (time: number) => {
    const at = Math.floor((time - resumeAt) / BUCKET_MS)
    let b = buckets.get(at)
    if (!b) buckets.set(at, (b = { live: createSamples(256), resumers: 0 }))
    return b
  }
  const { times, values } = liveSeries
  for (let i = 0; i < times.length; i++) bucket(times[i]).live.add(values[i])
  for (const time of resumerSeries.times) bucket(time).resumers++
  return [...buckets.keys()].sort((a, b) => a - b).map((at) => {
    const b = buckets.get(at)!
    const s = b.live.summarize()
    return { fromS: (at * BUCKET_MS) / 1000, liveCount: s.count, liveP99: s.p99, liveMax: s.max, resumerCount: b.resumers }
  })
}

function summarizeResumers(): ResumerSummary {
  const of = (pick: (r: Resumer) => number | undefined) => {
    const values = resumers.map(pick).filter((v): v is number => v !== undefined)
    return summarize(Float64Array.from(values))
  }
  const ended: Record<string, number> = {}
  for (const code of resumerEnded.values()) ended[code] = (ended[code] ?? 0) + 1
  return {
    resumers: resumers.length,
    resumed: resumers.filter((r) => r.resumedAt).length,
    live: resumers.filter((r) => r.liveAt).length,
    timeToLiveMs: of((r) => (r.liveAt ? r.liveAt - r.resumedAt : undefined)),
    replayMs: of((r) => (r.lastReplayAt ? r.lastReplayAt - r.resumedAt : undefined)),
    firstDeliveryMs: of((r) => (r.firstAt ? r.firstAt - r.resumedAt : undefined)),
    firstLiveLatencyMs: of((r) => (r.liveAt ? r.liveLatency : undefined)),
    replayed: resumers.reduce((sum, r) => sum + r.replayed, 0),
    beforeCursor: resumers.reduce((sum, r) => sum + r.beforeCursor, 0),
    ended,
  }
}

async function collect(request: CollectRequest & { resumeAt: number }): Promise<CollectResult> {
  const [live, resumed] = await Promise.all([
    liveTally!.collect(request.phase, request.writes, request.idleMs, request.timeoutMs, 5_000),
    resumerTally!.collect(request.phase, request.writes, request.idleMs, request.timeoutMs, 5_000),
  ])
  const countEnded = (ended: Map<number, string>) => {
    const out: Record<string, number> = {}
    for (const code of ended.values()) out[code] = (out[code] ?? 0) + 1
    return out
  }
  const { resumeAt } = request
  return {
    live,
    resumers: resumed,
    liveBefore: liveSeries.between(request.phaseStartAt + request.settleMs, resumeAt),
    liveDuring: liveSeries.between(resumeAt, resumeAt + request.windowMs),
    liveAfter: liveSeries.between(resumeAt + request.windowMs, Number.POSITIVE_INFINITY),
    timeline: timeline(resumeAt),
    resumerSummary: summarizeResumers(),
    liveEnded: countEnded(liveEnded),
    unparsed,
    dropped,
  }
}

async function close(): Promise<void> {
  const all = [...liveSockets, ...resumerSockets]
  liveSockets = []
  resumerSockets = []
  await Promise.all(
    all.map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) return resolve()
          socket.removeAllListeners('close')
          socket.once('close', () => resolve())
          socket.close(1000)
          setTimeout(() => {
            socket.terminate()
            resolve()
          }, 2000).unref()
        }),
    ),
  )
}

serveWorker({ connect, subscribe, reached, settle, leave, resume, measure, progress, collect, close })
