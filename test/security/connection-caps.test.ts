import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { signToken, type GatewayProcess, spawnGatewayOverMongo } from '../fixtures/gateway.js'
import { type MongoTarget } from '../fixtures/mongo.js'
import { ackedSocket, closeSocket, expectServesWellBehaved, metric, rawSocket, type RawSocket } from './support.js'

type Outcome = { kind: 'acked'; socket: WebSocket } | { kind: 'refused'; status: number } | { kind: 'closed'; code: number }

/** Opens a socket and sends `connection_init`; resolves with how the gateway answered. */
function attempt(wsUrl: string, token: string, localAddress?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { localAddress })
    socket.on('error', () => undefined)
    socket.once('unexpected-response', (_req, res) => (resolve({ kind: 'refused', status: res.statusCode ?? 0 }), socket.terminate()))
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })))
    socket.once('message', () => resolve({ kind: 'acked', socket }))
    socket.once('close', (code) => resolve({ kind: 'closed', code }))
  })
}

const closeAll = (outcomes: Outcome[]) =>
  Promise.all(
    outcomes.map((o) =>
      o.kind === 'acked' && o.socket.readyState !== WebSocket.CLOSED
        ? new Promise((resolve) => (o.socket.once('close', resolve), o.socket.close(1000)))
        : undefined,
    ),
  )

describe('connection caps', () => {
  let mongo: MongoTarget
  let gw: GatewayProcess
  beforeAll(async () => {
    ;({ gw, mongo } = await spawnGatewayOverMongo({
      CHANGEGATE_MAX_CONNECTIONS_PER_TENANT: '20',
      CHANGEGATE_MAX_EVENT_STREAMS_PER_TENANT: '3',
    }))
  })
  afterAll(async () => {
    await gw?.stop()
    await mongo?.stop()
  })

  it('1,000 sockets from one address: 256 accepted, the rest refused with HTTP 429; other addresses served', async () => {
    const baseline = await metric(gw, 'changegate_ws_connections')
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => signToken({ tenant: `flood-${i}` })))
    const outcomes = await Promise.all(Array.from({ length: 1000 }, (_, i) => attempt(gw.wsUrl, tokens[i % 20])))
    const acked = outcomes.filter((o) => o.kind === 'acked').length
    const refused = outcomes.filter((o) => o.kind === 'refused' && o.status === 429).length
    expect({ acked, refused }).toEqual({ acked: 256, refused: 744 })
    expect(await metric(gw, 'changegate_ws_connections')).toBe(baseline + 256)

    expect(await attempt(gw.wsUrl, tokens[0])).toEqual({ kind: 'refused', status: 429 })
    await expectServesWellBehaved(gw)

    await closeAll(outcomes)
    await expect.poll(() => metric(gw, 'changegate_ws_connections')).toBe(baseline)
    const again = await attempt(gw.wsUrl, tokens[0])
    expect(again.kind).toBe('acked')
    await closeAll([again])
  })

  it('a tenant past 20 sockets gets close 4503 "Too many connections" at connection_init; other tenants served', async () => {
    const token = await signToken({ tenant: 'capped' })
    const held: RawSocket[] = []
    for (let i = 0; i < 20; i++) held.push(await ackedSocket(gw.wsUrl, token, { localAddress: i % 2 ? '127.0.0.2' : '127.0.0.3' }))
    const over = await rawSocket(gw.wsUrl, { localAddress: '127.0.0.4' })
    over.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })
    expect(await over.closed).toEqual({ code: 4503, reason: 'Too many connections' })
    expect(over.frames).toEqual([])
    await expectServesWellBehaved(gw)

    await closeSocket(held.pop()!)
    await expect.poll(async () => (await attempt(gw.wsUrl, token, '127.0.0.4')).kind).toBe('acked')
    await Promise.all(held.map(closeSocket))
  })

  it('a tenant past 3 event streams gets HTTP 429 SUBSCRIPTION_LIMIT; the slot frees when a stream ends', async () => {
    const token = await signToken({ tenant: 'sse-capped' })
    const open = async (t: string) => {
      const controller = new AbortController()
      const response = await fetch(gw.url, {
        method: 'POST',
        signal: controller.signal,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${t}` },
        body: JSON.stringify({ query: 'subscription { orderChanged { documentId } }' }),
      })
      const body = response.status === 200 ? undefined : await response.json()
      return { status: response.status, body, close: () => controller.abort() }
    }
    const held = [await open(token), await open(token), await open(token)]
    expect(held.map((s) => s.status)).toEqual([200, 200, 200])
    expect(await open(token)).toMatchObject({
      status: 429,
      body: { errors: [{ message: 'Too many event streams', extensions: { code: 'SUBSCRIPTION_LIMIT' } }] },
    })
    const other = await open(await signToken({ tenant: 'sse-other' }))
    expect(other.status).toBe(200)
    other.close()
    await expectServesWellBehaved(gw)

    held.pop()!.close()
    await expect.poll(async () => {
      const retry = await open(token)
      retry.close()
      return retry.status
    }).toBe(200)
    held.forEach((s) => s.close())
  })

  it('answers a request body over 1 MiB with 413 (announced or chunked) and serves one at 1 MiB', async () => {
    const REFUSED_BY_RESET = -1
    const token = await signToken({ tenant: 'acme' })
    const body = (bytes: number) => {
      const base = JSON.stringify({ query: '{ changeCursor }', variables: { pad: '' } })
      return JSON.stringify({ query: '{ changeCursor }', variables: { pad: 'x'.repeat(bytes - base.length) } })
    }
    const post = (payload: string, chunked: boolean) =>
      new Promise<number>((resolve, reject) => {
        const headers: Record<string, string | number> = { 'content-type': 'application/json', authorization: `Bearer ${token}` }
        if (!chunked) headers['content-length'] = Buffer.byteLength(payload)
        const req = request(gw.url, { method: 'POST', headers }, (res) => (res.resume(), resolve(res.statusCode ?? 0)))
        // The gateway answers 413 and closes while the client may still be writing: under load the client can see
        // the reset before it reads the answer. Either way the body was refused.
        req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? resolve(REFUSED_BY_RESET) : reject(e)))
        if (chunked) for (let i = 0; i < payload.length; i += 65536) req.write(payload.slice(i, i + 65536))
        else req.write(payload)
        req.end()
      })
    expect([413, REFUSED_BY_RESET]).toContain(await post(body(1024 * 1024 + 1), false))
    expect([413, REFUSED_BY_RESET]).toContain(await post(body(2 * 1024 * 1024), true))
    expect(await post(body(1024 * 1024), false)).toBe(200)
    expect(await post(body(1024 * 1024), true)).toBe(200)
    await expectServesWellBehaved(gw)
  })
})
