import { once } from 'node:events'
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startToyGateway, toyToken, type ToyGateway } from '../fixtures/toy-schema.js'

interface Frame {
  id?: string
  type: string
  payload?: { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> } & Array<{ extensions?: { code?: string } }>
}

/** The HTTP status of a WebSocket handshake (101 when accepted) and the socket, left open when accepted. */
function upgrade(gw: ToyGateway, opts: { localAddress?: string; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; socket?: WebSocket }>((resolve, reject) => {
    const socket = new WebSocket(gw.wsUrl, 'graphql-transport-ws', { headers: opts.headers, localAddress: opts.localAddress })
    socket.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 })
      socket.terminate()
    })
    socket.once('open', () => resolve({ status: 101, socket }))
    socket.once('error', reject)
  })
}

/** An acknowledged raw graphql-transport-ws socket, recording every frame, or the close it got instead. */
async function initialised(gw: ToyGateway, token: string) {
  const { socket } = await upgrade(gw)
  const frames: Frame[] = []
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket!.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  socket!.on('message', (data) => frames.push(JSON.parse(String(data)) as Frame))
  socket!.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }))
  const first = await Promise.race([once(socket!, 'message').then(() => 'ack' as const), closed])
  return { socket: socket!, frames, closed, refused: first === 'ack' ? undefined : first }
}

const closeAll = async (sockets: Array<WebSocket | undefined>) => {
  const open = sockets.filter((s): s is WebSocket => !!s && s.readyState !== WebSocket.CLOSED)
  await Promise.all(open.map((s) => new Promise((resolve) => (s.once('close', resolve), s.close()))))
}

describe('WebSocket connections per client address', () => {
  let gw: ToyGateway
  beforeAll(async () => {
    gw = await startToyGateway({ config: { maxConnectionsPerIp: 3 } })
  })
  afterAll(() => gw.stop())

  it('refuses the upgrade over the cap with HTTP 429, serves other addresses, and frees the slot on close', async () => {
    const held = await Promise.all([1, 2, 3].map(() => upgrade(gw)))
    expect(held.map((h) => h.status)).toEqual([101, 101, 101])
    expect((await upgrade(gw)).status).toBe(429)
    const other = await upgrade(gw, { localAddress: '127.0.0.2' })
    expect(other.status).toBe(101)
    await closeAll([held[0].socket, other.socket])
    const again = await upgrade(gw)
    expect(again.status).toBe(101)
    await closeAll([...held.map((h) => h.socket), again.socket])
  })

  it('ignores X-Forwarded-For from peers that are not trusted proxies', async () => {
    const held = await Promise.all(['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((a) => upgrade(gw, { headers: { 'x-forwarded-for': a } })))
    expect((await upgrade(gw, { headers: { 'x-forwarded-for': '10.0.0.4' } })).status).toBe(429)
    await closeAll(held.map((h) => h.socket))
  })
})

describe('WebSocket connections behind a trusted proxy', () => {
  let gw: ToyGateway
  beforeAll(async () => {
    gw = await startToyGateway({ config: { maxConnectionsPerIp: 2, trustedProxies: ['127.0.0.0/8'] } })
  })
  afterAll(() => gw.stop())

  const via = (forwardedFor: string) => upgrade(gw, { headers: { 'x-forwarded-for': forwardedFor } })

  it('counts the forwarded client, not the proxy, and never the entries a client wrote itself', async () => {
    const a = [await via('203.0.113.5'), await via('198.51.100.1, 203.0.113.5:61000')]
    expect((await via('192.0.2.99, 203.0.113.5')).status).toBe(429)
    const b = await via('203.0.113.6, 127.0.0.1')
    expect([...a, b].map((h) => h.status)).toEqual([101, 101, 101])
    await closeAll([...a, b].map((h) => h.socket))
  })

  it('counts IPv6 clients per /64 network, with or without brackets and ports', async () => {
    const same = [await via('2001:db8:0:1::1'), await via('[2001:db8:0:1:ffff::2]:4711')]
    expect((await via('2001:db8:0:1:0:0:0:3')).status).toBe(429)
    const other = await via('2001:db8:0:2::1')
    expect([...same, other].map((h) => h.status)).toEqual([101, 101, 101])
    await closeAll([...same, other].map((h) => h.socket))
  })
})

describe('WebSocket connections per tenant', () => {
  let gw: ToyGateway
  beforeAll(async () => {
    gw = await startToyGateway({ config: { maxConnectionsPerTenant: 2 } })
  })
  afterAll(() => gw.stop())

  it('closes the connection_init over the cap with 4503 "Too many connections"; other tenants are served', async () => {
    const acme = await toyToken({ tenant: 'acme' })
    const held = [await initialised(gw, acme), await initialised(gw, acme)]
    expect(held.map((h) => h.refused)).toEqual([undefined, undefined])
    const over = await initialised(gw, acme)
    expect(over.refused).toEqual({ code: 4503, reason: 'Too many connections' })
    const globex = await initialised(gw, await toyToken({ tenant: 'globex' }))
    expect(globex.refused).toBeUndefined()

    await closeAll([held[0].socket])
    const again = await initialised(gw, acme)
    expect(again.refused).toBeUndefined()
    await closeAll([held[1].socket, globex.socket, again.socket])
  })

  it('does not count a socket refused for its token', async () => {
    const forged = await initialised(gw, await toyToken({ tenant: 'acme' }, 3600, 'x'.repeat(40)))
    expect(forged.refused).toEqual({ code: 4403, reason: 'Forbidden' })
    const held = [await initialised(gw, gw.token), await initialised(gw, gw.token)]
    expect(held.map((h) => h.refused)).toEqual([undefined, undefined])
    await closeAll(held.map((h) => h.socket))
  })
})

describe('subscribe rate per WebSocket', () => {
  let gw: ToyGateway
  beforeAll(async () => {
    gw = await startToyGateway({ config: { subscribeRatePerSecond: 4, subscribeBurst: 3 } })
  })
  afterAll(() => gw.stop())

  const subscribe = (c: Awaited<ReturnType<typeof initialised>>, id: string) =>
    c.socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: 'subscription { ticks(count: 1) }' } }))
  const outcome = (c: Awaited<ReturnType<typeof initialised>>, id: string) =>
    c.frames.find((f) => f.id === id && (f.type === 'next' || f.type === 'error'))

  it('answers subscriptions over the bucket with SUBSCRIPTION_LIMIT per operation; the socket stays open and refills', async () => {
    const c = await initialised(gw, gw.token)
    for (let i = 1; i <= 5; i++) subscribe(c, `s${i}`)
    await expect.poll(() => c.frames.filter((f) => f.type === 'complete' || f.type === 'error').length).toBe(5)
    expect(['s1', 's2', 's3'].map((id) => outcome(c, id)?.payload?.data)).toEqual([{ ticks: 1 }, { ticks: 1 }, { ticks: 1 }])
    for (const id of ['s4', 's5']) {
      expect(outcome(c, id)?.type).toBe('error')
      expect(outcome(c, id)?.payload?.[0]).toEqual({
        message: 'Subscribing too fast on this connection; retry later',
        extensions: { code: 'SUBSCRIPTION_LIMIT' },
      })
    }
    // 4 per second: a token is back after 250 ms.
    await new Promise((resolve) => setTimeout(resolve, 300))
    subscribe(c, 's6')
    await expect.poll(() => outcome(c, 's6')?.payload?.data).toEqual({ ticks: 1 })
    expect(c.socket.readyState).toBe(WebSocket.OPEN)
    await closeAll([c.socket])
  })

  it('does not count queries', async () => {
    const c = await initialised(gw, gw.token)
    for (let i = 1; i <= 20; i++) c.socket.send(JSON.stringify({ id: `q${i}`, type: 'subscribe', payload: { query: '{ whoami }' } }))
    await expect.poll(() => c.frames.filter((f) => f.type === 'complete').length).toBe(20)
    expect(c.frames.filter((f) => f.type === 'error')).toEqual([])
    await closeAll([c.socket])
  })
})

describe('HTTP request bodies', () => {
  let gw: ToyGateway
  beforeAll(async () => {
    gw = await startToyGateway({ config: { maxBodyBytes: 2048 } })
  })
  afterAll(() => gw.stop())

  /** POSTs `body`, announcing its length or (chunked) not. */
  function post(body: string, chunked: boolean) {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const headers: Record<string, string | number> = { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` }
      if (!chunked) headers['content-length'] = Buffer.byteLength(body)
      const req = request(gw.url, { method: 'POST', headers }, (res) => {
        let text = ''
        res.on('data', (chunk) => (text += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      })
      req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)))
      if (chunked) for (let i = 0; i < body.length; i += 512) req.write(body.slice(i, i + 512))
      else req.write(body)
      req.end()
    })
  }

  const sized = (bytes: number) => {
    const base = JSON.stringify({ query: '{ whoami }', variables: { pad: '' } })
    return JSON.stringify({ query: '{ whoami }', variables: { pad: 'x'.repeat(bytes - base.length) } })
  }

  it('answers a body over the limit with 413, announced or chunked, and serves one at the limit', async () => {
    for (const chunked of [false, true]) {
      const over = await post(sized(2049), chunked)
      expect(over.status).toBe(413)
      expect(JSON.parse(over.body)).toEqual({ errors: [{ message: 'Request body larger than 2048 bytes', extensions: { code: 'BAD_USER_INPUT' } }] })
      const atLimit = await post(sized(2048), chunked)
      expect(atLimit).toEqual({ status: 200, body: JSON.stringify({ data: { whoami: 'acme' } }) })
    }
  })
})

describe('SSE streams per client address and tenant', () => {
  let gw: ToyGateway
  beforeAll(async () => {
    gw = await startToyGateway({ config: { maxEventStreamsPerIp: 3, maxEventStreamsPerTenant: 2 } })
  })
  afterAll(() => gw.stop())

  async function open(token: string) {
    const controller = new AbortController()
    const response = await fetch(gw.url, {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'subscription { ticks(count: 100000, intervalMs: 50) }' }),
    })
    if (response.status === 200) {
      const reader = response.body!.getReader()
      await reader.read()
      return { status: 200, close: () => controller.abort() }
    }
    return { status: response.status, body: await response.json(), close: () => undefined }
  }

  it('answers a stream over either cap with 429 SUBSCRIPTION_LIMIT and frees slots when streams end', async () => {
    const globex = await toyToken({ tenant: 'globex' })
    const acme = [await open(gw.token), await open(gw.token)]
    const tenantOver = await open(gw.token)
    expect(tenantOver).toMatchObject({ status: 429, body: { errors: [{ message: 'Too many event streams', extensions: { code: 'SUBSCRIPTION_LIMIT' } }] } })
    const other = await open(globex)
    expect(other.status).toBe(200)
    expect((await open(globex)).status).toBe(429)
    // Plain queries are not event streams.
    const query = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` },
      body: JSON.stringify({ query: '{ whoami }' }),
    })
    expect(await query.json()).toEqual({ data: { whoami: 'acme' } })

    acme[0].close()
    await expect.poll(() => gw.server.stats().subscriptions).toBe(2)
    const again = await open(gw.token)
    expect(again.status).toBe(200)
    for (const s of [acme[1], other, again]) s.close()
    await expect.poll(() => gw.server.stats().subscriptions).toBe(0)
  })
})
