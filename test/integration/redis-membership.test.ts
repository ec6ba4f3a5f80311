import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClusterRegistry, type ClusterRegistry, type NodeInfo } from '../../src/cluster/membership.js'
import { connectRedis, startRedis, type RedisServer } from '../fixtures/redis.js'

let server: RedisServer
let redis: Redis
let testNumber = 0

beforeAll(async () => {
  server = await startRedis()
  redis = connectRedis(server.url)
})
afterAll(async () => {
  redis?.disconnect()
  await server?.stop()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Registries of one test share a fresh prefix, so tests never see each other's nodes. */
function cluster(heartbeatIntervalMs = 100) {
  const prefix = `t${++testNumber}:`
  return (nodeId: string): ClusterRegistry => createClusterRegistry({ redis, nodeId, prefix, heartbeatIntervalMs })
}

const info = (id: string, ownedStreams: string[] = []): Omit<NodeInfo, 'heartbeatAt'> => ({
  id,
  address: `http://127.0.0.1:4000/graphql#${id}`,
  startedAt: 1_700_000_000_000,
  connections: 3,
  subscriptions: 7,
  ownedStreams,
})

describe('cluster registry', () => {
  it('lists nodes that heartbeat, with their latest info', async () => {
    const join = cluster()
    const a = join('node-a')
    const b = join('node-b')
    expect(await a.nodes()).toEqual([])
    const before = Date.now()
    await b.heartbeat(info('node-b'))
    await a.heartbeat(info('node-a', ['changegate.orders']))
    await a.heartbeat({ ...info('node-a', ['changegate.orders', 'changegate.users']), connections: 4 })
    const nodes = await b.nodes()
    expect(nodes.map((node) => node.id)).toEqual(['node-a', 'node-b'])
    expect(nodes[0]).toEqual({
      ...info('node-a', ['changegate.orders', 'changegate.users']),
      connections: 4,
      heartbeatAt: expect.any(Number),
    })
    expect(nodes[0].heartbeatAt).toBeGreaterThanOrEqual(before)
  })

  it('drops a node that stopped heartbeating after three intervals, and keeps one that goes on', async () => {
    const join = cluster(200)
    const silent = join('node-silent')
    const alive = join('node-alive')
    await silent.heartbeat(info('node-silent'))
    await alive.heartbeat(info('node-alive'))
    for (let n = 0; n < 2; n++) {
      await sleep(200)
      await alive.heartbeat(info('node-alive'))
    }
    expect((await alive.nodes()).map((node) => node.id)).toEqual(['node-alive', 'node-silent'])
    for (let n = 0; n < 3; n++) {
      await sleep(200)
      await alive.heartbeat(info('node-alive'))
    }
    expect((await alive.nodes()).map((node) => node.id)).toEqual(['node-alive'])
    // Heartbeating again brings it back.
    await silent.heartbeat(info('node-silent'))
    expect((await alive.nodes()).map((node) => node.id)).toEqual(['node-alive', 'node-silent'])
  })

  it('counts a node as interested in a stream until its interest expires', async () => {
    const join = cluster()
    const a = join('node-a')
    const b = join('node-b')
    await a.declareInterest(['changegate.orders', 'changegate.users'], 600)
    await b.declareInterest(['changegate.orders'], 5000)
    expect(await a.interestedNodes('changegate.orders')).toEqual(['node-a', 'node-b'])
    expect(await b.interestedNodes('changegate.users')).toEqual(['node-a'])
    expect(await b.interestedNodes('changegate.other')).toEqual([])

    await sleep(400)
    await a.declareInterest(['changegate.users'], 600)
    await sleep(400)
    expect(await b.interestedNodes('changegate.orders')).toEqual(['node-b'])
    expect(await b.interestedNodes('changegate.users')).toEqual(['node-a'])
    await sleep(400)
    expect(await b.interestedNodes('changegate.users')).toEqual([])
  })

  it('forgets a node that leaves: its info and its interest', async () => {
    const join = cluster()
    const a = join('node-a')
    const b = join('node-b')
    await a.heartbeat(info('node-a'))
    await b.heartbeat(info('node-b'))
    await a.declareInterest(['changegate.orders'], 10_000)
    await b.declareInterest(['changegate.orders'], 10_000)
    await a.leave()
    expect((await b.nodes()).map((node) => node.id)).toEqual(['node-b'])
    expect(await b.interestedNodes('changegate.orders')).toEqual(['node-b'])
  })

  it('refuses to heartbeat under another node’s id', async () => {
    const a = cluster()('node-a')
    await expect(a.heartbeat(info('node-b'))).rejects.toThrow(TypeError)
  })
})
