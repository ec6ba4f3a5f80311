/**
 * Load generator for the cluster benchmark: holds every WebSocket (graphql-transport-ws over `ws`), spread over
 * the gateway nodes as the layout says, and records each receipt: which subscription, which write, when it was
 * committed (the writer's `createdAt`) and when it arrived. Connections of a node that went away can be moved to
 * the surviving nodes, resubscribing with the last cursor each subscription received.
 */
import WebSocket from 'ws'
import { createSamples, type LatencySummary, type Samples } from '../lib/stats.js'
import { openAcknowledged } from '../lib/graphql-ws-client.js'
import { serveWorker } from '../lib/worker.js'
import { createLayout, customerHex, customerOfSubscription, decodeOrderHex, ORDER_SUBSCRIPTION, tenantOfConnection, writesFor, type Layout, type LayoutOptions } from './layout.js'

export interface ConnectRequest {
  /** ws:// URL of each node; connection c goes to node c % urls.length. */
  readonly urls: readonly string[]
  readonly layout: LayoutOptions
  /** One bearer token per tenant, in layout order. */
  readonly tokens: readonly string[]
  readonly concurrency: number
}

export interface GroupTally {
  readonly expected: number
  readonly received: number
  readonly lost: number
  readonly latencyMs: LatencySummary
  /** Earliest arrival of a write committed at or after `since` (epoch ms), if asked. */
  readonly firstArrivalSince?: number
}

export interface CollectRequest {
  readonly phase: number
  readonly writes: number
  readonly idleMs: number
  readonly timeoutMs: number
  readonly since?: number
  /** Also report the subscriptions on this node against all the others. */
  readonly split?: number
  /** Receipts over time, in windows of `windowMs` from `origin` (epoch ms), leaving out node `exclude`. */
  readonly timeline?: { readonly origin: number; readonly windowMs: number; readonly exclude?: number }
}

export interface TimelineWindow {
  /** Start of the window, ms from the origin. */
  readonly fromMs: number
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  /** Receipts of writes committed at or after `since`. */
  readonly sinceCount: number
}

export interface CollectResult {
  /** By the node each subscription was first connected to. */
  readonly byNode: GroupTally[]
  readonly all: GroupTally
  readonly split?: { readonly node: GroupTally; readonly others: GroupTally }
  readonly timeline?: TimelineWindow[]
  readonly duplicates: number
  readonly misrouted: number
  readonly ended: Record<string, number>
  readonly socketsClosed: number
}

interface Message {
  readonly type: string
  readonly id?: string
  readonly payload?: unknown
}

interface NextPayload {
  readonly data?: { orderChanged?: { cursor: string; documentId: string; order: { createdAt: string } | null } }
  readonly errors?: Array<{ message: string; extensions?: { code?: string } }>
}

interface PhaseState {
  seen: Uint8Array
  slots: number
  distinct: number
  duplicates: number
  misrouted: number
  lastAt: number
  /** Per receipt: node (of the subscription's first connection), createdAt, receivedAt. */
  nodes: number[]
  created: number[]
  received: number[]
}

let layout: Layout | undefined
let urls: readonly string[] = []
let tokens: readonly string[] = []
let sockets: Array<WebSocket | undefined> = []
let memberCustomer = new Int32Array(0)
let memberNode = new Int32Array(0)
let lastCursor: Array<string | undefined> = []
const phases = new Map<number, PhaseState>()
const ended = new Map<number, string>()
let socketsClosed = 0
let closing = false

function phaseState(phase: number): PhaseState {
  let state = phases.get(phase)
  if (!state) {
    const members = layout!.subscriptions
    state = { seen: new Uint8Array(members * 8), slots: 8, distinct: 0, duplicates: 0, misrouted: 0, lastAt: 0, nodes: [], created: [], received: [] }
    phases.set(phase, state)
  }
  return state
}

function record(member: number, phase: number, seq: number, createdAt: number, receivedAt: number): void {
  const l = layout!
  const state = phaseState(phase)
  if (seq % l.customers !== memberCustomer[member]) {
    state.misrouted++
    return
  }
  const index = Math.floor(seq / l.customers)
  if (index >= state.slots) {
    const slots = Math.max(index + 1, state.slots * 2)
    const seen = new Uint8Array(l.subscriptions * slots)
    seen.set(state.seen)
    state.seen = seen
    state.slots = slots
  }
  const at = index * l.subscriptions + member
  if (state.seen[at]) {
    state.duplicates++
    return
  }
  state.seen[at] = 1
  state.distinct++
  state.lastAt = receivedAt
  state.nodes.push(memberNode[member])
  state.created.push(createdAt)
  state.received.push(receivedAt)
}

function onMessage(socket: WebSocket, data: WebSocket.RawData): void {
  const receivedAt = Date.now()
  const message = JSON.parse(data.toString()) as Message
  switch (message.type) {
    case 'next': {
      const member = Number(message.id)
      const payload = message.payload as NextPayload
      const event = payload.data?.orderChanged
      if (event) {
        lastCursor[member] = event.cursor
        const id = decodeOrderHex(event.documentId)
        if (id && event.order) record(member, id.phase, id.seq, Date.parse(event.order.createdAt), receivedAt)
      } else if (payload.errors?.length) ended.set(member, payload.errors[0].extensions?.code ?? 'UNKNOWN')
      return
    }
    case 'error':
      ended.set(Number(message.id), (message.payload as NextPayload['errors'])?.[0]?.extensions?.code ?? 'ERROR')
      return
    case 'complete':
      ended.set(Number(message.id), 'COMPLETE')
      return
    case 'ping':
      socket.send('{"type":"pong"}')
      return
  }
}

function open(url: string, token: string): Promise<WebSocket> {
  return openAcknowledged(url, token, {
    onMessage,
    onClose: () => {
      if (!closing) socketsClosed++
    },
  })
}

async function inLanes(items: readonly number[], concurrency: number, run: (item: number) => Promise<void>): Promise<void> {
  let next = 0
  const lane = async () => {
    while (next < items.length) await run(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane))
}

function subscribeConnection(c: number, withCursor: boolean): void {
  const l = layout!
  for (let slot = 0; slot < l.subscriptionsPerConnection; slot++) {
    const g = c * l.subscriptionsPerConnection + slot
    const variables = { customerId: customerHex(memberCustomer[g]), ...(withCursor && lastCursor[g] ? { after: lastCursor[g] } : {}) }
    sockets[c]!.send(JSON.stringify({ id: String(g), type: 'subscribe', payload: { query: ORDER_SUBSCRIPTION, variables } }))
  }
}

async function connect(request: ConnectRequest): Promise<{ connected: number; ms: number }> {
  const l = (layout = createLayout(request.layout))
  urls = request.urls
  tokens = request.tokens
  memberCustomer = new Int32Array(l.subscriptions)
  memberNode = new Int32Array(l.subscriptions)
  lastCursor = new Array<string | undefined>(l.subscriptions)
  for (let g = 0; g < l.subscriptions; g++) {
    memberCustomer[g] = customerOfSubscription(l, g)
    memberNode[g] = Math.floor(g / l.subscriptionsPerConnection) % urls.length
  }
  sockets = new Array<WebSocket | undefined>(l.connections)
  const started = performance.now()
  await inLanes(Array.from({ length: l.connections }, (_, c) => c), request.concurrency, async (c) => {
    sockets[c] = await open(urls[c % urls.length], tokens[tenantOfConnection(l, c)])
  })
  return { connected: l.connections, ms: performance.now() - started }
}

function subscribe(): number {
  for (let c = 0; c < sockets.length; c++) subscribeConnection(c, false)
  return layout!.subscriptions
}

/**
 * Reopens every connection that was on node `from` on the nodes `to` (round-robin) and resubscribes each of its
 * subscriptions `after:` the last cursor it received.
 */
async function move({ from, to }: { from: number; to: readonly number[] }): Promise<{ connections: number; ms: number }> {
  const l = layout!
  const started = performance.now()
  const moving = Array.from({ length: l.connections }, (_, c) => c).filter((c) => c % urls.length === from)
  let i = 0
  await inLanes(moving, 50, async (c) => {
    sockets[c]?.terminate()
    const target = to[i++ % to.length]
    sockets[c] = await open(urls[target], tokens[tenantOfConnection(l, c)])
    subscribeConnection(c, true)
  })
  return { connections: moving.length, ms: performance.now() - started }
}

function reached(phase: number): number {
  const state = phases.get(phase)
  if (!state) return 0
  const members = layout!.subscriptions
  let count = 0
  for (let m = 0; m < members; m++) {
    for (let index = 0; index < state.slots; index++) {
      if (state.seen[index * members + m]) {
        count++
        break
      }
    }
  }
  return count
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function collect({ phase, writes, idleMs, timeoutMs, since, split, timeline }: CollectRequest): Promise<CollectResult> {
  const l = layout!
  const state = phaseState(phase)
  const nodes = urls.length
  const expectedByNode = new Array<number>(nodes).fill(0)
  for (let m = 0; m < l.subscriptions; m++) expectedByNode[memberNode[m]] += writesFor(l.customers, memberCustomer[m], writes)
  const expected = expectedByNode.reduce((a, b) => a + b, 0)
  const calledAt = Date.now()
  while (state.distinct < expected && Date.now() - calledAt < timeoutMs && Date.now() - Math.max(state.lastAt, calledAt) < idleMs) await sleep(20)
  const samples: Samples[] = Array.from({ length: nodes }, () => createSamples(state.received.length / nodes + 16))
  const all = createSamples(state.received.length + 16)
  const others = createSamples(state.received.length + 16)
  const receivedByNode = new Array<number>(nodes).fill(0)
  const firstSince = new Array<number>(nodes).fill(Number.POSITIVE_INFINITY)
  for (let i = 0; i < state.received.length; i++) {
    const node = state.nodes[i]
    const latency = state.received[i] - state.created[i]
    samples[node].add(latency)
    all.add(latency)
    if (split !== undefined && node !== split) others.add(latency)
    receivedByNode[node]++
    if (since !== undefined && state.created[i] >= since) firstSince[node] = Math.min(firstSince[node], state.received[i])
  }
  const firstAll = Math.min(...firstSince)
  const group = (e: number, r: number, s: Samples, first: number): GroupTally => ({
    expected: e,
    received: r,
    lost: e - r,
    latencyMs: s.summarize(),
    ...(since !== undefined && Number.isFinite(first) ? { firstArrivalSince: first } : {}),
  })
  const codes: Record<string, number> = {}
  for (const code of ended.values()) codes[code] = (codes[code] ?? 0) + 1
  const windows: Array<{ samples: Samples; sinceCount: number } | undefined> = []
  if (timeline) {
    for (let i = 0; i < state.received.length; i++) {
      if (timeline.exclude !== undefined && state.nodes[i] === timeline.exclude) continue
      const w = Math.floor((state.received[i] - timeline.origin) / timeline.windowMs)
      if (w < 0) continue
      const entry = (windows[w] ??= { samples: createSamples(), sinceCount: 0 })
      entry.samples.add(state.received[i] - state.created[i])
      if (since !== undefined && state.created[i] >= since) entry.sinceCount++
    }
  }
  const byNode = samples.map((s, n) => group(expectedByNode[n], receivedByNode[n], s, firstSince[n]))
  const othersFirst = Math.min(...firstSince.filter((_, n) => n !== split))
  return {
    byNode,
    all: group(expected, state.distinct, all, firstAll),
    ...(timeline
      ? {
          timeline: Array.from(windows, (entry, w) => {
            const summary = entry?.samples.summarize()
            return { fromMs: w * timeline.windowMs, count: summary?.count ?? 0, p50: summary?.p50 ?? NaN, p99: summary?.p99 ?? NaN, max: summary?.max ?? NaN, sinceCount: entry?.sinceCount ?? 0 }
          }),
        }
      : {}),
    ...(split !== undefined
      ? {
          split: {
            node: byNode[split],
            others: group(expected - expectedByNode[split], state.distinct - receivedByNode[split], others, othersFirst),
          },
        }
      : {}),
    duplicates: state.duplicates,
    misrouted: state.misrouted,
    ended: codes,
    socketsClosed,
  }
}

async function close(): Promise<void> {
  closing = true
  const waiting = sockets.map(
    (socket) =>
      new Promise<void>((resolve) => {
        if (!socket || socket.readyState === WebSocket.CLOSED) return resolve()
        socket.once('close', () => resolve())
        socket.close(1000)
        setTimeout(() => {
          socket.terminate()
          resolve()
        }, 2000).unref()
      }),
  )
  sockets = []
  await Promise.all(waiting)
}

serveWorker({
  connect,
  subscribe,
  move,
  reached: (phase: number) => reached(phase),
  collect,
  close,
})
