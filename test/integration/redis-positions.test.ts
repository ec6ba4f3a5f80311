import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Position } from '../../src/mongo/position.js'
import { createLeaseManager, type LeaseManager } from '../../src/cluster/lease-manager.js'
import { createPositionStore, type PositionStore } from '../../src/cluster/position-store.js'
import { redisKeys } from '../../src/cluster/redis-scripts.js'
import { connectRedis, startRedis, type RedisServer } from '../fixtures/redis.js'

let server: RedisServer
let redis: Redis
let positions: PositionStore
let streamNumber = 0
const managers: LeaseManager[] = []

beforeAll(async () => {
  server = await startRedis()
  redis = connectRedis(server.url)
  positions = createPositionStore({ redis })
})
afterEach(async () => {
  await Promise.all(managers.splice(0).map((leases) => leases.stop()))
})
afterAll(async () => {
  redis?.disconnect()
  await server?.stop()
})

const nextStream = () => `changegate.users.${++streamNumber}`

function manager(nodeId: string, ttlMs = 5000): LeaseManager {
  const leases = createLeaseManager({ redis, nodeId, ttlMs })
  managers.push(leases)
  return leases
}

const tokenPosition: Position = { kind: 'token', token: '8265A1B2C3000000012B0429', time: { t: 0x65a1b2c3, i: 1 } }
const timePosition: Position = { kind: 'time', time: { t: 0x65a1b2c4, i: 7 } }

describe('position store', () => {
  it('loads what the lease holder saved, with its epoch and save time', async () => {
    const key = nextStream()
    expect(await positions.load(key)).toBeUndefined()
    const lease = await manager('node-a').tryAcquire(key)
    const before = Date.now()
    expect(await positions.save(lease!, tokenPosition)).toBe(true)
    const saved = await positions.load(key)
    expect(saved).toEqual({ position: tokenPosition, epoch: lease!.epoch, savedAt: expect.any(Number) })
    expect(saved!.savedAt).toBeGreaterThanOrEqual(before)
    expect(saved!.savedAt).toBeLessThanOrEqual(Date.now())

    expect(await positions.save(lease!, timePosition)).toBe(true)
    expect((await positions.load(key))?.position).toEqual(timePosition)
  })

  it('refuses saves from a node that does not hold the lease, or holds an older epoch', async () => {
    const key = nextStream()
    const lease = await manager('node-a').tryAcquire(key)
    expect(await positions.save(lease!, tokenPosition)).toBe(true)

    expect(await positions.save({ streamKey: key, nodeId: 'node-b', epoch: lease!.epoch }, timePosition)).toBe(false)
    await lease!.release()
    expect(await positions.save(lease!, timePosition)).toBe(false)

    const next = await manager('node-a').tryAcquire(key)
    expect(next!.epoch).toBeGreaterThan(lease!.epoch)
    expect(await positions.save(lease!, timePosition)).toBe(false)
    expect(await positions.load(key)).toMatchObject({ position: tokenPosition, epoch: lease!.epoch })
    expect(await positions.save(next!, timePosition)).toBe(true)
    expect(await positions.load(key)).toMatchObject({ position: timePosition, epoch: next!.epoch })
  })

  it('refuses saves to a stream nobody holds', async () => {
    const key = nextStream()
    expect(await positions.save({ streamKey: key, nodeId: 'node-a', epoch: 1 }, tokenPosition)).toBe(false)
    expect(await positions.load(key)).toBeUndefined()
  })

  it('reports a malformed stored position as an error rather than as no position', async () => {
    const key = nextStream()
    await redis.set(redisKeys().position(key), '{"position":{"kind":"token"},"epoch":1,"savedAt":1}')
    await expect(positions.load(key)).rejects.toThrow(TypeError)
  })

  it('keeps stores with different prefixes apart', async () => {
    const key = nextStream()
    const other = createPositionStore({ redis, prefix: 'other:' })
    const lease = await manager('node-a').tryAcquire(key)
    expect(await other.save(lease!, tokenPosition)).toBe(false)
    const otherLease = await createAndTrack('other:').tryAcquire(key)
    expect(await other.save(otherLease!, timePosition)).toBe(true)
    expect(await positions.load(key)).toBeUndefined()
    expect((await other.load(key))?.position).toEqual(timePosition)
  })
})

function createAndTrack(prefix: string): LeaseManager {
  const leases = createLeaseManager({ redis, nodeId: 'node-a', prefix })
  managers.push(leases)
  return leases
}
