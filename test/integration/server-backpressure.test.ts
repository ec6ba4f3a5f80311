import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startToyGateway, type ToyGateway } from '../fixtures/toy-schema.js'

const SIZE = 32 * 1024

/** An acknowledged raw graphql-transport-ws socket that records the `n` of every flood event it reads. */
async function floodSubscriber(gw: ToyGateway) {
  const socket = new WebSocket(gw.wsUrl, 'graphql-transport-ws')
  socket.on('error', () => undefined)
  const received: number[] = []
  /** Every frame after the ack: its type and, for a `next` with errors, their codes. */
  const frames: Array<{ type: string; codes?: Array<string | undefined> }> = []
  let acked!: () => void
  const ack = new Promise<void>((resolve) => (acked = resolve))
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as {
      type: string
      payload?: { data?: { flood?: { n: number } }; errors?: Array<{ extensions?: { code?: string } }> }
    }
    if (message.type === 'connection_ack') acked()
    else frames.push({ type: message.type, codes: message.payload?.errors?.map((e) => e.extensions?.code) })
    const n = message.payload?.data?.flood?.n
    if (message.type === 'next' && n !== undefined) received.push(n)
  })
  await once(socket, 'open')
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${gw.token}` } }))
  await ack
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `subscription { flood(size: ${SIZE}) { n pad } }` } }))
  return { socket, received, frames }
}

/** Waits until `read()` returns the same value over `quietMs`. */
async function settle(read: () => number, quietMs = 1000, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let last = read()
  for (;;) {
    await sleep(quietMs)
    const now = read()
    if (now === last) return now
    if (Date.now() > deadline) throw new Error(`still moving: ${last} → ${now}`)
    last = now
  }
}

describe('WebSocket backpressure', () => {
  let gw: ToyGateway | undefined
  afterEach(async () => {
    await gw?.stop()
    gw = undefined
  })

  it('pulls a subscription no faster than its client reads, and loses nothing when it reads again', async () => {
    gw = await startToyGateway()
    const { socket, received } = await floodSubscriber(gw)
    await expect.poll(() => received.length).toBeGreaterThan(10)
    socket.pause()

    // A generator that yields as fast as it is pulled stops being pulled: only what fits in the kernel's socket
    // buffers (a few MB on loopback) plus one frame waiting for its flush has been produced beyond what the client read.
    const produced = await settle(() => gw!.probe.floodProduced)
    const unread = produced - received.length
    expect(unread * SIZE).toBeLessThan(16 * 1024 * 1024)

    socket.resume()
    await expect.poll(() => received.length, { timeout: 20_000 }).toBeGreaterThan(produced + 10)
    expect(gw.probe.floodProduced).toBeGreaterThan(produced)
    expect(received.slice(0, produced + 10)).toEqual(Array.from({ length: produced + 10 }, (_, i) => i + 1))

    socket.close()
    await expect.poll(() => gw!.probe.floodEnded).toBe(1)
  })

  it('keeps other sockets flowing while one client stalls', async () => {
    gw = await startToyGateway()
    const stalled = await floodSubscriber(gw)
    await expect.poll(() => stalled.received.length).toBeGreaterThan(0)
    stalled.socket.pause()

    const healthy = await floodSubscriber(gw)
    await expect.poll(() => healthy.received.length, { timeout: 20_000 }).toBeGreaterThan(200)
    stalled.socket.terminate()
    healthy.socket.close()
    await expect.poll(() => gw!.probe.floodEnded).toBe(2)
  })

  it('pings an idle peer every keepAliveMs (a sixteenth of it late at most) and keeps it while it answers', async () => {
    gw = await startToyGateway({ keepAliveMs: 200 })
    const socket = new WebSocket(gw.wsUrl, 'graphql-transport-ws')
    socket.on('error', () => undefined)
    const pings: number[] = []
    socket.on('ping', () => pings.push(Date.now()))
    await once(socket, 'open')
    const openedAt = Date.now()
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${gw.token}` } }))
    await expect.poll(() => pings.length, { timeout: 5000 }).toBeGreaterThanOrEqual(6)
    // The client saw its open a little after the server did; timers on a busy machine fire late, never early.
    expect(pings[0] - openedAt).toBeGreaterThanOrEqual(200 - 20)
    const gaps = pings.slice(1, 6).map((at, i) => at - pings[i])
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(150)
    // Due times do not drift: five intervals take five keepAliveMs, give or take one timer's lateness.
    expect(pings[5] - pings[0]).toBeGreaterThanOrEqual(1000 - 20)
    expect(pings[5] - pings[0]).toBeLessThan(1000 + 150)
    expect(socket.readyState).toBe(WebSocket.OPEN)
    socket.close()
  })

  it('terminates a peer that stops answering pings, ending its subscriptions', async () => {
    gw = await startToyGateway({ keepAliveMs: 200 })
    const idle = new WebSocket(gw.wsUrl, 'graphql-transport-ws')
    await once(idle, 'open')
    const { socket } = await floodSubscriber(gw)
    await expect.poll(() => gw!.server.stats().connections).toBe(2)
    socket.pause()

    await expect.poll(() => gw!.probe.floodEnded, { timeout: 5000 }).toBe(1)
    expect(gw.server.stats().connections).toBe(1)
    // The idle peer answers pings (the ws client does so by itself) and is still connected; the init timeout
    // (3 s) has not passed yet.
    expect(idle.readyState).toBe(WebSocket.OPEN)
    idle.close()
    socket.terminate()
  })

  it('judges a peer that stops reading dead only after the slow-consumer timeout, queues SLOW_CONSUMER for it, then closes it with 4410', async () => {
    const slowConsumerTimeoutMs = 1000
    gw = await startToyGateway({ keepAliveMs: 200, slowConsumerTimeoutMs })
    const { socket, received, frames } = await floodSubscriber(gw)
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    )
    await expect.poll(() => received.length).toBeGreaterThan(10)
    const pausedAt = Date.now()
    socket.pause()

    const judged = () => gw!.logs.find((l) => l.msg === 'websocket unresponsive: closing')
    await expect.poll(judged, { timeout: 10_000 }).toBeDefined()
    expect(Date.parse(judged()!.time as string) - pausedAt).toBeGreaterThanOrEqual(slowConsumerTimeoutMs)
    expect(judged()!.code).toBe(4410)
    socket.resume()

    // What it had not read, then the end of its subscription with SLOW_CONSUMER, then the close.
    expect(await closed).toEqual({ code: 4410, reason: 'Unresponsive' })
    expect(received).toEqual(Array.from({ length: received.length }, (_, i) => i + 1))
    expect(frames.slice(-2)).toEqual([{ type: 'next', codes: ['SLOW_CONSUMER'] }, { type: 'complete', codes: undefined }])
    await expect.poll(() => gw!.probe.floodEnded).toBe(1)
    const internal = (await gw.metrics.errors.get()).values.find((v) => v.labels.code === 'INTERNAL_SERVER_ERROR')
    expect(internal?.value ?? 0).toBe(0)
  })
})
