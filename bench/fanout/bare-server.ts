/**
 * The fan-out benchmark's ceiling: a bare `ws` server that speaks just enough graphql-transport-ws for the same
 * load generator (ack, subscribe, pong) and broadcasts `next` frames shaped like the gateway's, serialized once
 * per event plus a prebuilt per-subscription prefix: no database, no GraphQL execution, no per-subscriber work
 * beyond `send`. Events follow the writer's schedule and routing (event `seq` goes to the subscriptions of customer
 * `seq % customers`), stamped `createdAt = Date.now()` when their millisecond's batch is sent.
 * Usage (as a worker): bare-server.ts
 */
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import { serveWorker } from '../lib/worker.js'
import { createLayout, customerHex, orderHex } from './layout.js'
import type { PacedRequest, PacedResult } from './protocol.js'

interface Subscriber {
  readonly socket: WebSocket
  /** `{"id":"…","type":"next","payload":` */
  readonly prefix: string
}

interface Message {
  readonly type: string
  readonly id?: string
  readonly payload?: { readonly variables?: { readonly customerId?: string } }
}

const byCustomer = new Map<string, Subscriber[]>()
let subscriptions = 0
let wss: WebSocketServer | undefined

function onConnection(socket: WebSocket): void {
  socket.on('error', () => undefined)
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as Message
    if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}')
    else if (message.type === 'ping') socket.send('{"type":"pong"}')
    else if (message.type === 'subscribe' && message.id !== undefined) {
      const customer = message.payload?.variables?.customerId ?? ''
      const list = byCustomer.get(customer) ?? []
      list.push({ socket, prefix: `{"id":${JSON.stringify(message.id)},"type":"next","payload":` })
      byCustomer.set(customer, list)
      subscriptions++
    }
  })
}

function listen(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, backlog: 4096 })
    server.once('error', reject)
    server.once('listening', () => resolve((server.address() as AddressInfo).port))
    server.on('connection', onConnection)
    wss = server
  })
}

function broadcast({ layout: options, phase, firstSeq, count, rate }: PacedRequest): Promise<PacedResult> {
  const layout = createLayout(options)
  const targets: Subscriber[][] = Array.from({ length: layout.customers }, (_, k) => byCustomer.get(customerHex(k)) ?? [])
  let sent = 0
  let maxLagMs = 0
  const start = performance.now()
  const startedAt = Date.now()
  return new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(count, Math.floor(((performance.now() - start) * rate) / 1000) + 1)
      if (sent < due) {
        maxLagMs = Math.max(maxLagMs, performance.now() - (start + (sent * 1000) / rate))
        const createdAt = new Date().toISOString()
        for (; sent < due; sent++) {
          const seq = firstSeq + sent
          const body = `{"data":{"orderChanged":{"documentId":"${orderHex(phase, seq)}","order":{"createdAt":"${createdAt}"}}}}}`
          for (const { socket, prefix } of targets[seq % layout.customers]) socket.send(prefix + body)
        }
      }
      if (sent < count) setTimeout(tick, 1)
      else resolve({ sent, failed: 0, startedAt, endedAt: Date.now(), maxLagMs })
    }
    tick()
  })
}

function close(): Promise<void> {
  byCustomer.clear()
  subscriptions = 0
  return new Promise((resolve) => {
    if (!wss) return resolve()
    for (const client of wss.clients) client.terminate()
    wss.close(() => resolve())
  })
}

serveWorker({ listen, subscriptions: () => subscriptions, broadcast, close })
