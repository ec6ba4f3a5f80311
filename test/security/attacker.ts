/**
 * A misbehaving tenant, as its own process (so its work never delays the well-behaved client being measured):
 * `node --import tsx test/security/attacker.ts <wsUrl> <token> <durationMs> [sockets]`.
 *
 * Each socket opens with a burst of 150 `orderChanged` subscribes (past the per-socket rate and count limits)
 * and their completes; then, every 20 ms, it sends 10 subscribes with fresh ids and distinct filters, completes
 * the previous tick's, and sends 2 operations over the depth/token limits. Every 500 ms a fifth of the sockets
 * are closed and replaced. Prints one JSON line with what came back, by frame type and error code.
 */
import { once } from 'node:events'
import WebSocket from 'ws'

const [wsUrl, token, durationArg, socketsArg] = process.argv.slice(2)
const durationMs = Number(durationArg)
const socketCount = Number(socketsArg ?? 50)
const SUBSCRIBE = 'subscription($f: OrderChangeFilter) { orderChanged(filter: $f) { documentId } }'
const DEEP = `{ ${'a { '.repeat(9_999)}a${' }'.repeat(9_999)} }`

const counts: Record<string, number> = { sent: 0, opened: 0 }
let sequence = 0
const bump = (key: string) => (counts[key] = (counts[key] ?? 0) + 1)

async function open(): Promise<WebSocket> {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws')
  socket.on('error', () => undefined)
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type: string; payload?: unknown }
    bump(frame.type)
    const errors = frame.type === 'error' ? (frame.payload as Array<{ extensions?: { code?: string } }>) : (frame.payload as { errors?: [] })?.errors
    for (const e of (errors ?? []) as Array<{ extensions?: { code?: string } }>) bump(`code:${e.extensions?.code}`)
  })
  socket.on('close', (code) => bump(`close:${code}`))
  await once(socket, 'open')
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }))
  await once(socket, 'message')
  bump('opened')
  const burst = Array.from({ length: 150 }, () => `b${++sequence}`)
  for (const id of burst) socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: SUBSCRIBE, variables: { f: { minTotal: sequence } } } }))
  for (const id of burst) socket.send(JSON.stringify({ id, type: 'complete' }))
  counts.sent += 300
  return socket
}

const sockets = await Promise.all(Array.from({ length: socketCount }, open))
const previous = new Map<WebSocket, string[]>()
const deadline = Date.now() + durationMs
let lastChurn = Date.now()

while (Date.now() < deadline) {
  for (const socket of sockets) {
    if (socket.readyState !== WebSocket.OPEN) continue
    for (const id of previous.get(socket) ?? []) socket.send(JSON.stringify({ id, type: 'complete' }))
    const ids: string[] = []
    for (let i = 0; i < 10; i++) {
      const id = `s${++sequence}`
      ids.push(id)
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: SUBSCRIBE, variables: { f: { minTotal: sequence } } } }))
    }
    for (let i = 0; i < 2; i++) socket.send(JSON.stringify({ id: `d${++sequence}`, type: 'subscribe', payload: { query: DEEP } }))
    counts.sent += 12
    previous.set(socket, ids)
  }
  if (Date.now() - lastChurn >= 500) {
    lastChurn = Date.now()
    for (let i = 0; i < sockets.length; i += 5) {
      sockets[i].close(1000)
      sockets[i] = await open()
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 20))
}
await Promise.all(sockets.filter((s) => s.readyState !== WebSocket.CLOSED).map((s) => (s.close(1000), once(s, 'close'))))
process.stdout.write(`${JSON.stringify(counts)}\n`)
process.exit(0)
