import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createRedisFanOut, type RedisFanOut } from '../../src/cluster/redis-fanout.js'
import { createLeaseManager, type Lease, type LeaseManager } from '../../src/cluster/lease-manager.js'
import { createPositionStore } from '../../src/cluster/position-store.js'
import { redisKeys } from '../../src/cluster/redis-scripts.js'
import { connectRedis, startRedis, type RedisServer } from '../fixtures/redis.js'

let server: RedisServer
let redisA: Redis
let redisB: Redis
let subscriber: Redis
let streamNumber = 0
const cleanups: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  server = await startRedis()
  redisA = connectRedis(server.url)
  redisB = connectRedis(server.url)
  subscriber = connectRedis(server.url)
})

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

afterAll(async () => {
  for (const client of [redisA, redisB, subscriber]) client?.disconnect()
  await server?.stop()
})

const nextStream = () => `changegate.orders.${++streamNumber}`
const position = { kind: 'time', time: { t: 1_700_000_000, i: 1 } } as const
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function manager(redis: Redis, nodeId: string, ttlMs = 5000): LeaseManager {
  const leases = createLeaseManager({ redis, nodeId, ttlMs })
  cleanups.push(() => leases.stop())
  return leases
}

function fanOut(): RedisFanOut {
  const fanout = createRedisFanOut({ publisher: redisA, subscriber })
  cleanups.push(() => fanout.stop())
  return fanout
}

/** Blocks the event loop, as a process paused by the OS or a long GC would. */
function blockEventLoop(ms: number) {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // busy
  }
}

/** Resolves to true if `lease.lost` resolves within `ms`. */
const lostWithin = (lease: Lease, ms: number) => Promise.race([lease.lost.then(() => true), sleep(ms).then(() => false)])

describe('leases', () => {
  it('lets exactly one of two racing nodes acquire a stream', async () => {
    const key = nextStream()
    const [a, b] = await Promise.all([
      manager(redisA, 'node-a').tryAcquire(key),
      manager(redisB, 'node-b').tryAcquire(key),
    ])
    const winners = [a, b].filter((lease) => lease !== undefined)
    expect(winners).toHaveLength(1)
    const [winner] = winners
    expect(winner.isHeld).toBe(true)
    expect(await manager(redisA, 'node-c').owner(key)).toEqual({
      streamKey: key,
      nodeId: winner.nodeId,
      epoch: winner.epoch,
    })
  })

  it('gives every new owner a higher epoch', async () => {
    const key = nextStream()
    const a = manager(redisA, 'node-a')
    const b = manager(redisB, 'node-b')
    const epochs: number[] = []
    for (const leases of [a, b, a, b]) {
      const lease = await leases.tryAcquire(key)
      expect(lease).toBeDefined()
      epochs.push(lease!.epoch)
      await lease!.release()
      expect(lease!.isHeld).toBe(false)
      expect(await a.owner(key)).toBeUndefined()
    }
    expect(epochs).toEqual([...epochs].sort((x, y) => x - y))
    expect(new Set(epochs).size).toBe(4)
  })

  it('keeps a renewed lease past several TTLs', async () => {
    const key = nextStream()
    const lease = await manager(redisA, 'node-a', 500).tryAcquire(key)
    expect(lease).toBeDefined()
    expect(await lostWithin(lease!, 1600)).toBe(false)
    expect(lease!.isHeld).toBe(true)
    expect(await manager(redisB, 'node-b', 500).tryAcquire(key)).toBeUndefined()
    expect(await manager(redisB, 'node-c').owner(key)).toMatchObject({ nodeId: 'node-a', epoch: lease!.epoch })
  })

  it('loses the lease of a paused holder, whose writes are then refused', async () => {
    const key = nextStream()
    const fanout = fanOut()
    const positions = createPositionStore({ redis: redisA })
    const old = await manager(redisA, 'node-a', 300).tryAcquire(key)
    expect(old).toBeDefined()
    expect(await fanout.publish(old!, { kind: 'position', position })).toEqual({ seq: 1 })

    blockEventLoop(700)
    // Known before any I/O: the local deadline passed while the process was stuck.
    expect(old!.isHeld).toBe(false)
    await old!.lost

    const successor = await manager(redisB, 'node-b', 300).tryAcquire(key)
    expect(successor).toBeDefined()
    expect(successor!.epoch).toBeGreaterThan(old!.epoch)

    expect(await fanout.publish(old!, { kind: 'position', position })).toBe('fenced')
    expect(await positions.save(old!, position)).toBe(false)
    // Numbered within the successor's epoch.
    expect(await fanout.publish(successor!, { kind: 'position', position })).toEqual({ seq: 1 })
    expect(await positions.save(successor!, position)).toBe(true)
    expect(await positions.load(key)).toMatchObject({ epoch: successor!.epoch })
  })

  it('loses the lease when a renewal finds another holder, and release then leaves that holder alone', async () => {
    const key = nextStream()
    const lease = await manager(redisA, 'node-a', 300).tryAcquire(key)
    expect(lease).toBeDefined()
    await redisB.set(redisKeys().lease(key), 'node-x:99', 'PX', 5000)
    expect(await lostWithin(lease!, 1000)).toBe(true)
    expect(lease!.isHeld).toBe(false)
    await lease!.release()
    expect(await manager(redisB, 'node-b').owner(key)).toEqual({ streamKey: key, nodeId: 'node-x', epoch: 99 })
  })

  it('loses the lease when Redis does not answer renewals before the TTL', async () => {
    const key = nextStream()
    const lease = await manager(redisA, 'node-a', 400).tryAcquire(key)
    expect(lease).toBeDefined()
    server.pause()
    const started = performance.now()
    try {
      await lease!.lost
      // No reply ever came: the local deadline alone ended the lease, about one TTL after it was taken.
      expect(performance.now() - started).toBeLessThan(400 + 500)
      expect(lease!.isHeld).toBe(false)
    } finally {
      server.resume()
    }
    const successor = await manager(redisB, 'node-b', 400).tryAcquire(key)
    expect(successor?.epoch).toBeGreaterThan(lease!.epoch)
  })

  it('hands a node the lease it already holds instead of a second one', async () => {
    const key = nextStream()
    const leases = manager(redisA, 'node-a')
    const lease = await leases.tryAcquire(key)
    expect(await leases.tryAcquire(key)).toBe(lease)
    expect(await leases.owner(key)).toEqual({ streamKey: key, nodeId: 'node-a', epoch: lease!.epoch })
  })

  it('releases held leases on stop', async () => {
    const key = nextStream()
    const leases = createLeaseManager({ redis: redisA, nodeId: 'node-a' })
    const lease = await leases.tryAcquire(key)
    expect(lease).toBeDefined()
    await leases.stop()
    await lease!.lost
    expect(lease!.isHeld).toBe(false)
    expect(await leases.tryAcquire(key)).toBeUndefined()
    const next = await manager(redisB, 'node-b').tryAcquire(key)
    expect(next?.epoch).toBeGreaterThan(lease!.epoch)
  })
})
