import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { expect } from 'vitest'
import WebSocket from 'ws'
import { httpGraphQL, signToken, type GatewayProcess } from '../fixtures/gateway.js'

/** A graphql-transport-ws frame as received. */
export interface Frame {
  id?: string
  type: string
  payload?: unknown
}

export interface GraphQLErrorJSON {
  message: string
  extensions?: { code?: string }
}

export interface RawSocket {
  readonly socket: WebSocket
  readonly frames: Frame[]
  readonly closed: Promise<{ code: number; reason: string }>
  send(message: unknown): void
  /** Resolves with the first frame (already received or to come) matching `match`. */
  frame(match: (f: Frame) => boolean, timeoutMs?: number): Promise<Frame>
}

/** Opens a raw graphql-transport-ws socket (no client library), recording frames and the close. */
export async function rawSocket(wsUrl: string, opts: { headers?: Record<string, string>; localAddress?: string } = {}): Promise<RawSocket> {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { headers: opts.headers, localAddress: opts.localAddress })
  const frames: Frame[] = []
  socket.on('error', () => undefined)
  socket.on('message', (data) => frames.push(JSON.parse(String(data)) as Frame))
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  await once(socket, 'open')
  return {
    socket,
    frames,
    closed,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    async frame(match, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = frames.find(match)
        if (found) return found
        if (Date.now() > deadline) throw new Error(`no matching frame in ${timeoutMs} ms; got ${JSON.stringify(frames).slice(0, 500)}`)
        // The next message (or close), or a timer in case neither ever comes.
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer)
            socket.off('message', wake)
            socket.off('close', wake)
            setImmediate(resolve)
          }
          const timer = setTimeout(wake, Math.max(1, deadline - Date.now()))
          socket.on('message', wake)
          socket.on('close', wake)
        })
      }
    },
  }
}

/** A raw socket that has sent `connection_init` with `token` and received the ack. */
export async function ackedSocket(wsUrl: string, token: string, opts: { localAddress?: string } = {}): Promise<RawSocket> {
  const raw = await rawSocket(wsUrl, opts)
  raw.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })
  await raw.frame((f) => f.type === 'connection_ack')
  return raw
}

/** Runs one operation over a raw socket to its end: `next` payloads, or the `error` payload. */
export async function operation(raw: RawSocket, id: string, query: string, variables?: Record<string, unknown>) {
  raw.send({ id, type: 'subscribe', payload: { query, variables } })
  const end = await raw.frame((f) => f.id === id && (f.type === 'complete' || f.type === 'error'), 30_000)
  const nexts = raw.frames.filter((f) => f.id === id && f.type === 'next').map((f) => f.payload as { data?: unknown; errors?: GraphQLErrorJSON[] })
  return { nexts, errors: end.type === 'error' ? (end.payload as GraphQLErrorJSON[]) : undefined }
}

export const closeSocket = async (raw: RawSocket) => {
  if (raw.socket.readyState !== WebSocket.CLOSED) raw.socket.close(1000)
  await raw.closed
}

export interface SSEEvent {
  event: string
  data: { data?: Record<string, unknown> | null; errors?: GraphQLErrorJSON[] } | null
}

/** POSTs with `Accept: text/event-stream` and reads events until the stream ends or `max` events came. */
export async function sse(url: string, token: string, query: string, variables?: Record<string, unknown>, max = Infinity) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  })
  const events: SSEEvent[] = []
  if (!response.headers.get('content-type')?.includes('text/event-stream')) {
    return { status: response.status, events, body: await response.text() }
  }
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  while (events.length < max) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += value
    let end: number
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const lines = buffer.slice(0, end).split('\n').filter((l) => !l.startsWith(':'))
      buffer = buffer.slice(end + 2)
      if (lines.length === 0) continue
      const data = lines.find((l) => l.startsWith('data:'))?.slice(5).trim()
      events.push({ event: lines.find((l) => l.startsWith('event:'))?.slice(6).trim() ?? 'message', data: data ? JSON.parse(data) : null })
    }
  }
  await reader.cancel().catch(() => undefined)
  return { status: response.status, events, body: '' }
}

/** First error code of each `next` in an SSE response. */
export const sseCodes = (events: SSEEvent[]) => events.filter((e) => e.event === 'next').map((e) => e.data?.errors?.[0]?.extensions?.code)

/**
 * Asserts the gateway still serves a well-behaved client: `/readyz` is 200, and a fresh token gets its tenant's
 * change cursor over HTTP and over a new WebSocket.
 */
export async function expectServesWellBehaved(gw: GatewayProcess, tenant = 'bystander'): Promise<void> {
  expect(gw.child.exitCode).toBeNull()
  const token = await signToken({ tenant })
  expect((await fetch(gw.url.replace('/graphql', '/readyz'))).status).toBe(200)
  const http = await httpGraphQL<{ changeCursor: string }>(gw.url, token, '{ changeCursor }')
  expect(http.status).toBe(200)
  expect(http.body.data?.changeCursor).toMatch(/^[\w-]+\.[\w-]{43}$/)
  const raw = await ackedSocket(gw.wsUrl, token, { localAddress: '127.0.0.9' })
  const { nexts, errors } = await operation(raw, 'well-behaved', '{ changeCursor }')
  expect(errors).toBeUndefined()
  expect((nexts[0]?.data as { changeCursor?: string } | undefined)?.changeCursor).toMatch(/^[\w-]+\.[\w-]{43}$/)
  await closeSocket(raw)
}

/** A sample's value from the gateway's `/metrics` (sum over label sets when `labels` is omitted). */
export async function metric(gw: GatewayProcess, name: string, labels?: string): Promise<number> {
  const text = await (await fetch(gw.url.replace('/graphql', '/metrics'))).text()
  let sum = 0
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line)
    if (!match || match[1] !== name) continue
    if (labels !== undefined && match[2] !== `{${labels}}`) continue
    sum += Number(match[3])
  }
  return sum
}

/** Resident set size of a process, in bytes (Linux `/proc/<pid>/status`). */
export function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN) * 1024
}
