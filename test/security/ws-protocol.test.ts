import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { httpGraphQL, signToken, TEST_JWT_SECRET, type GatewayProcess, spawnGatewayOverMongo } from '../fixtures/gateway.js'
import { type MongoTarget } from '../fixtures/mongo.js'
import { ackedSocket, closeSocket, expectServesWellBehaved, metric, operation, rawSocket, sse } from './support.js'

const LIVE = 'subscription { orderChanged { documentId } }'
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Tokens that must all be refused: HTTP 401, WebSocket 4403 `Forbidden`. */
async function hostileTokens(): Promise<Record<string, string>> {
  const now = Math.floor(Date.now() / 1000)
  const claims = { sub: 'mallory', tenant: 'acme', iat: now, exp: now + 3600 }
  const valid = await signToken({ tenant: 'acme', sub: 'mallory' })
  const [header, , signature] = valid.split('.')
  return {
    forged: await signToken({ tenant: 'acme' }, 3600, 'not-the-gateway-secret-not-the-gateway-secret'),
    'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
    expired: await signToken({ tenant: 'acme' }, -60),
    'other tenant claim, original signature': `${header}.${b64({ ...claims, tenant: 'globex' })}.${signature}`,
    'HS512 with the right secret': await new SignJWT({ tenant: 'acme' })
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET)),
    'no tenant claim': await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET)),
  }
}

describe('WebSocket protocol abuse', () => {
  let mongo: MongoTarget
  let gw: GatewayProcess
  beforeAll(async () => {
    ;({ gw, mongo } = await spawnGatewayOverMongo({ CHANGEGATE_CONNECTION_INIT_TIMEOUT_MS: '1000' }))
  })
  afterAll(async () => {
    await gw?.stop()
    await mongo?.stop()
  })

  it('missing connection_init: a subscribe first closes 4401, silence closes 4408', async () => {
    const eager = await rawSocket(gw.wsUrl)
    eager.send({ id: '1', type: 'subscribe', payload: { query: '{ changeCursor }' } })
    expect(await eager.closed).toEqual({ code: 4401, reason: 'Unauthorized' })
    const silent = await rawSocket(gw.wsUrl)
    expect(await silent.closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' })
    expect([...eager.frames, ...silent.frames]).toEqual([])
    await expectServesWellBehaved(gw)
  })

  it('a socket without the graphql-transport-ws subprotocol closes 4406', async () => {
    const socket = new WebSocket(gw.wsUrl)
    const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    expect(await closed).toEqual({ code: 4406, reason: 'Subprotocol not acceptable' })
    await expectServesWellBehaved(gw)
  })

  it('late connection_init: the socket is already closed with 4408 and nothing is acknowledged', async () => {
    const late = await rawSocket(gw.wsUrl)
    // A second after the 1 s deadline.
    await new Promise((resolve) => setTimeout(resolve, 2000))
    late.send({ type: 'connection_init', payload: { authorization: `Bearer ${await signToken({ tenant: 'acme' })}` } })
    expect(await late.closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' })
    expect(late.frames).toEqual([])
    await expectServesWellBehaved(gw)
  })

  it('duplicate connection_init closes 4429, after the ack and while the first is being checked', async () => {
    const token = await signToken({ tenant: 'acme' })
    const init = { type: 'connection_init', payload: { authorization: `Bearer ${token}` } }
    const acked = await ackedSocket(gw.wsUrl, token)
    acked.send(init)
    expect(await acked.closed).toEqual({ code: 4429, reason: 'Too many initialisation requests' })
    const racing = await rawSocket(gw.wsUrl)
    racing.send(init)
    racing.send(init)
    expect(await racing.closed).toEqual({ code: 4429, reason: 'Too many initialisation requests' })
    await expectServesWellBehaved(gw)
  })

  it('duplicate subscription id closes 4409 and ends the first subscription', async () => {
    const before = await metric(gw, 'changegate_subscriptions_active')
    const raw = await ackedSocket(gw.wsUrl, await signToken({ tenant: 'acme' }))
    raw.send({ id: 'dup', type: 'subscribe', payload: { query: LIVE } })
    await expect.poll(() => metric(gw, 'changegate_subscriptions_active')).toBe(before + 1)
    raw.send({ id: 'dup', type: 'subscribe', payload: { query: LIVE } })
    expect(await raw.closed).toEqual({ code: 4409, reason: 'Subscriber for dup already exists' })
    await expect.poll(() => metric(gw, 'changegate_subscriptions_active')).toBe(before)
    await expectServesWellBehaved(gw)
  })

  it('refuses forged, alg:none, expired, re-tenanted, wrong-algorithm and tenant-less tokens on every transport', async () => {
    for (const [name, token] of Object.entries(await hostileTokens())) {
      const raw = await rawSocket(gw.wsUrl)
      raw.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })
      expect({ name, closed: await raw.closed }).toEqual({ name, closed: { code: 4403, reason: 'Forbidden' } })
      const http = await httpGraphQL(gw.url, token, '{ changeCursor }')
      expect({ name, status: http.status, body: http.body }).toEqual({
        name,
        status: 401,
        body: { errors: [{ message: 'Unauthorized', extensions: { code: 'UNAUTHENTICATED' } }] },
      })
      expect({ name, status: (await sse(gw.url, token, LIVE)).status }).toEqual({ name, status: 401 })
    }
    await expectServesWellBehaved(gw)
  })

  it('refuses a foreign or opaque Origin with HTTP 403 at the upgrade', async () => {
    const status = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(gw.wsUrl, 'graphql-transport-ws', { headers: { origin } })
        socket.once('unexpected-response', (_req, res) => (resolve(res.statusCode ?? 0), socket.terminate()))
        socket.once('open', () => (resolve(101), socket.close()))
        socket.once('error', reject)
      })
    const own = new URL(gw.url)
    expect(await status('https://evil.example')).toBe(403)
    expect(await status('null')).toBe(403)
    expect(await status(`http://${own.hostname}:${Number(own.port) + 1}`)).toBe(403)
    expect(await status(`http://evil.example:${own.port}`)).toBe(403)
    expect(await status(own.origin)).toBe(101)
    await expectServesWellBehaved(gw)
  })

  it('closes an oversize frame with 1009 (before and after connection_init), other sockets unaffected', async () => {
    const token = await signToken({ tenant: 'acme' })
    const bystander = await ackedSocket(gw.wsUrl, token)
    const early = await rawSocket(gw.wsUrl)
    early.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}`, pad: 'x'.repeat(70_000) } })
    expect((await early.closed).code).toBe(1009)
    const acked = await ackedSocket(gw.wsUrl, token)
    acked.send({ id: '1', type: 'subscribe', payload: { query: `{ changeCursor }#${'x'.repeat(70_000)}` } })
    expect((await acked.closed).code).toBe(1009)
    expect((await operation(bystander, 'after', '{ changeCursor }')).errors).toBeUndefined()
    await closeSocket(bystander)
    await expectServesWellBehaved(gw)
  })

  it('closes malformed frames with 4400: not JSON, binary garbage, unknown message type', async () => {
    const token = await signToken({ tenant: 'acme' })
    for (const frame of ['{"type":', Buffer.from([0xff, 0x00, 0xfe]), JSON.stringify({ type: 'exec', id: '1' })]) {
      const raw = await ackedSocket(gw.wsUrl, token)
      raw.socket.send(frame)
      expect(await raw.closed).toEqual({ code: 4400, reason: 'Invalid message received' })
    }
    await expectServesWellBehaved(gw)
  })

  it('answers a subscription flood past the bucket (20/s, burst 40) with SUBSCRIPTION_LIMIT; the socket stays open', async () => {
    const before = await metric(gw, 'changegate_subscriptions_active')
    const raw = await ackedSocket(gw.wsUrl, await signToken({ tenant: 'acme' }))
    for (let i = 0; i < 60; i++) raw.send({ id: `f${i}`, type: 'subscribe', payload: { query: LIVE } })
    const errorFrames = () => raw.frames.filter((f) => f.type === 'error')
    await expect.poll(async () => (await metric(gw, 'changegate_subscriptions_active')) - before + errorFrames().length).toBe(60)
    const started = (await metric(gw, 'changegate_subscriptions_active')) - before
    const errors = errorFrames().map((f) => (f.payload as Array<{ extensions?: { code?: string } }>)[0])
    expect(started).toBeGreaterThanOrEqual(40)
    expect(errors.length).toBeGreaterThanOrEqual(10)
    expect(new Set(errors.map((e) => e.extensions?.code))).toEqual(new Set(['SUBSCRIPTION_LIMIT']))
    // Queries are not rate limited, and the socket is still open.
    for (let i = 0; i < 60; i++) raw.send({ id: `q${i}`, type: 'subscribe', payload: { query: '{ changeCursor }' } })
    await expect.poll(() => raw.frames.filter((f) => f.type === 'complete' && f.id?.startsWith('q')).length).toBe(60)
    expect(raw.frames.filter((f) => f.type === 'error' && f.id?.startsWith('q'))).toEqual([])
    await new Promise((resolve) => setTimeout(resolve, 200))
    raw.send({ id: 'later', type: 'subscribe', payload: { query: LIVE } })
    await expect.poll(() => metric(gw, 'changegate_subscriptions_active')).toBe(before + started + 1)
    expect(raw.socket.readyState).toBe(WebSocket.OPEN)
    await closeSocket(raw)
    await expect.poll(() => metric(gw, 'changegate_subscriptions_active')).toBe(before)
    await expectServesWellBehaved(gw)
  })
})
