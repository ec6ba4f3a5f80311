/**
 * `npm run bench:cluster -- --redis cluster`: the same 3 gateway nodes, subscriptions and writes over one Redis,
 * over a Redis Cluster (3 primaries, 3 replicas) with classic pub/sub, and over the same cluster with sharded pub/sub,
 * one after the other in one invocation. Per column: commit→client latency, event messages a channel subscriber
 * sees per event, Redis commands per event (all primaries), cluster-bus publish messages per event (`CLUSTER INFO`,
 * all nodes), and, on the clusters, the primary serving the stream's slot SIGKILLed mid-run: time from the kill to
 * the first write committed after it reaching a client, and deliveries lost. Both Redis setups come from the
 * test fixtures (redis-server processes on this machine; the cluster with `appendfsync everysec`, the single Redis
 * without persistence, as in the default benchmark).
 */
import { Cluster, Redis } from 'ioredis'
import { redisKeys } from '../../src/cluster/redis-scripts.js'
import { startRedis, startRedisCluster, type RedisClusterServer } from '../../test/fixtures/redis.js'
import { markdownTable } from '../lib/markdown.js'
import { formatNumber, type LatencySummary } from '../lib/stats.js'
import type { Worker } from '../lib/processes.js'
import type { CollectResult, GroupTally } from './clients.js'
import type { Layout } from './layout.js'
import type { PacedRequest, PacedResult } from './writer.js'

export interface GatewayHandle {
  readonly id: string
  readonly url: string
  readonly pid: number
  stop(): Promise<void>
}

/** What the comparison borrows from run.ts. */
export interface ComparisonDeps {
  readonly layout: Layout
  readonly uri: string
  readonly writer: Worker
  readonly rate: number
  readonly seconds: number
  readonly takeoverSeconds: number
  readonly killAfterSeconds: number
  startGateway(database: string, nodeId: string, redisUrl: string, extraEnv: readonly string[]): Promise<GatewayHandle>
  startClients(urls: readonly string[]): Promise<Worker>
  waitSubscribed(urls: readonly string[]): Promise<void>
  warmUp(phase: number, send: Send, clients: Worker): Promise<void>
  readonly log: (line: string) => void
}

type Send = (request: Omit<PacedRequest, 'layout' | 'database'>) => Promise<PacedResult>

const NODES = 3
const IDLE_MS = 4_000
const DRAIN_MS = 30_000

interface Column {
  readonly label: string
  readonly database: string
  readonly phase: number
  readonly cluster: boolean
  readonly sharded: boolean
}

const COLUMNS: readonly Column[] = [
  { label: 'one Redis', database: 'cluster_bench_one_redis', phase: 21, cluster: false, sharded: false },
  { label: 'Redis Cluster, classic pub/sub', database: 'cluster_bench_rc_classic', phase: 31, cluster: true, sharded: false },
  { label: 'Redis Cluster, sharded pub/sub', database: 'cluster_bench_rc_sharded', phase: 41, cluster: true, sharded: true },
]

interface ColumnResult {
  readonly column: Column
  readonly steady: CollectResult
  readonly writes: number
  readonly channelMessagesPerEvent: number
  readonly commandsPerEvent: number
  readonly busPerEvent: number | undefined
  readonly failover?: { readonly firstDeliveryMs: number; readonly tally: CollectResult; readonly writes: number; readonly promoted: number }
}

/** A test client counting the event messages on one channel, classic or sharded, like any node's subscriber. */
async function countChannel(url: string, cluster: RedisClusterServer | undefined, channel: string, sharded: boolean) {
  let messages = 0
  const count = (_channel: unknown, message: Buffer | string) => {
    if (!String(message).includes('"kind":"position"')) messages++
  }
  const nodes = cluster?.ports.map((port) => ({ host: '127.0.0.1', port }))
  const client = nodes ? new Cluster(nodes, { shardedSubscribers: sharded, slotsRefreshInterval: 1000 }) : new Redis(url)
  client.on('error', () => undefined)
  client.on(sharded ? 'smessage' : 'message', count)
  await (sharded ? client.ssubscribe(channel) : client.subscribe(channel))
  return { read: () => messages, stop: () => client.disconnect() }
}

async function infoSum(ports: readonly number[], section: 'stats' | 'cluster', field: RegExp): Promise<number> {
  let sum = 0
  for (const port of ports) {
    const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => null })
    redis.on('error', () => undefined)
    try {
      const text = section === 'stats' ? await redis.info('stats') : String(await redis.call('CLUSTER', 'INFO'))
      for (const match of text.matchAll(new RegExp(field, 'g'))) sum += Number(match[1])
    } catch {
      // A killed node counts nothing.
    } finally {
      redis.disconnect()
    }
  }
  return sum
}

async function runColumn(deps: ComparisonDeps, column: Column): Promise<ColumnResult> {
  const { layout, log } = deps
  const single = column.cluster ? undefined : await startRedis()
  const cluster = column.cluster ? await startRedisCluster({ appendfsync: 'everysec' }) : undefined
  const url = single?.url ?? cluster!.url
  const ports = single ? [single.port] : cluster!.ports
  const gateways: GatewayHandle[] = []
  let clients: Worker | undefined
  const streamKey = `${column.database}.orders`
  const channel = redisKeys().channel(streamKey)
  const counter = await countChannel(url, cluster, channel, column.sharded)
  try {
    const env = column.sharded ? ['CHANGEGATE_REDIS_SHARDED_PUBSUB=1'] : []
    gateways.push(...(await Promise.all(Array.from({ length: NODES }, (_, i) => deps.startGateway(column.database, `node-${i}`, url, env)))))
    log(`${column.label}: nodes ${gateways.map((g) => `${g.id} pid ${g.pid}`).join(', ')}`)
    clients = await deps.startClients(gateways.map((g) => g.url))
    await deps.waitSubscribed(gateways.map((g) => g.url))
    const send: Send = (r) => deps.writer.request<PacedResult>('paced', { ...r, layout, database: column.database }, (r.count / r.rate) * 1000 + 120_000)
    await deps.warmUp(column.phase, send, clients)

    const commandsBefore = await infoSum(ports, 'stats', /total_commands_processed:(\d+)/)
    const busBefore = column.cluster ? await infoSum(ports, 'cluster', /cluster_stats_messages_publish(?:shard)?_sent:(\d+)/) : 0
    const messagesBefore = counter.read()
    log(`${column.label}: ${deps.rate}/s for ${deps.seconds} s`)
    const write = await send({ phase: column.phase + 1, firstSeq: 0, count: Math.round(deps.rate * deps.seconds), rate: deps.rate, deadlineMs: deps.seconds * 1000 + 2_000 })
    const steady = await clients.request<CollectResult>('collect', { phase: column.phase + 1, writes: write.sent, idleMs: IDLE_MS, timeoutMs: DRAIN_MS }, DRAIN_MS + 30_000)
    const commandsAfter = await infoSum(ports, 'stats', /total_commands_processed:(\d+)/)
    const busAfter = column.cluster ? await infoSum(ports, 'cluster', /cluster_stats_messages_publish(?:shard)?_sent:(\d+)/) : 0
    log(`  received ${steady.all.received}/${steady.all.expected}, p50 ${steady.all.latencyMs.p50} ms, p99 ${steady.all.latencyMs.p99} ms`)
    const result = {
      column,
      steady,
      writes: write.sent,
      channelMessagesPerEvent: (counter.read() - messagesBefore) / write.sent,
      commandsPerEvent: (commandsAfter - commandsBefore) / write.sent,
      busPerEvent: column.cluster ? (busAfter - busBefore) / write.sent : undefined,
    }
    if (!cluster) return result

    const leaseKey = redisKeys().lease(streamKey)
    const primary = await cluster.primaryFor(leaseKey)
    log(`${column.label}: failover: ${deps.rate}/s for ${deps.takeoverSeconds} s, SIGKILL primary ${primary} after ${deps.killAfterSeconds} s`)
    const phase = column.phase + 2
    const writing = send({ phase, firstSeq: 0, count: Math.round(deps.rate * deps.takeoverSeconds), rate: deps.rate, deadlineMs: deps.takeoverSeconds * 1000 + 2_000 })
    await new Promise((resolve) => setTimeout(resolve, deps.killAfterSeconds * 1000))
    const killedAt = Date.now()
    await cluster.kill(primary)
    const promoted = await cluster.waitForFailover(leaseKey, primary)
    const failoverWrite = await writing
    const tally = await clients.request<CollectResult>('collect', { phase, writes: failoverWrite.sent, idleMs: IDLE_MS, timeoutMs: DRAIN_MS, since: killedAt }, DRAIN_MS + 30_000)
    const first = Math.min(...tally.byNode.map((g) => g.firstArrivalSince ?? Number.POSITIVE_INFINITY))
    log(`  first post-kill delivery ${first - killedAt} ms; received ${tally.all.received}/${tally.all.expected}`)
    return { ...result, failover: { firstDeliveryMs: first - killedAt, tally, writes: failoverWrite.sent, promoted } }
  } finally {
    counter.stop()
    await clients?.request('close', undefined, 30_000).catch(() => undefined)
    await clients?.stop()
    await Promise.all(gateways.map((g) => g.stop()))
    await single?.stop()
    await cluster?.stop()
  }
}

const ms = (value: number) => (Number.isFinite(value) ? `${formatNumber(value)} ms` : '—')
const lat = (s: LatencySummary) => `${ms(s.p50)} / ${ms(s.p99)}`
/** `missing`: not arrived when the drain ended (the load generator waits 4 s of silence, at most 30 s). */
const deliveries = (g: GroupTally) => `${g.received.toLocaleString('en-US')} of ${g.expected.toLocaleString('en-US')} (missing ${g.lost})`

export async function runRedisComparison(deps: ComparisonDeps): Promise<{ table: string; lost: number }> {
  const results: ColumnResult[] = []
  for (const column of COLUMNS) results.push(await runColumn(deps, column))
  const row = (label: string, cell: (r: ColumnResult) => string) => [label, ...results.map(cell)]
  const rows = [
    row('commit→client p50 / p99, all clients', (r) => lat(r.steady.all.latencyMs)),
    row('commit→client max', (r) => ms(r.steady.all.latencyMs.max)),
    row('deliveries', (r) => deliveries(r.steady.all)),
    row('duplicates / misrouted', (r) => `${r.steady.duplicates} / ${r.steady.misrouted}`),
    row('event messages per event, seen by a channel subscriber', (r) => formatNumber(r.channelMessagesPerEvent)),
    row('Redis commands per event (INFO stats, every node)', (r) => formatNumber(r.commandsPerEvent)),
    row('cluster-bus publish messages per event (CLUSTER INFO, every node)', (r) => (r.busPerEvent === undefined ? '—' : formatNumber(r.busPerEvent))),
    row('primary serving the stream SIGKILLed: kill → first post-kill write at a client', (r) => (r.failover ? ms(r.failover.firstDeliveryMs) : '—')),
    row('… deliveries in that phase', (r) => (r.failover ? deliveries(r.failover.tally.all) : '—')),
    row('… duplicates / misrouted', (r) => (r.failover ? `${r.failover.tally.duplicates} / ${r.failover.tally.misrouted}` : '—')),
  ]
  const lost = results.reduce((sum, r) => sum + r.steady.all.lost + (r.failover?.tally.all.lost ?? 0), 0)
  return { table: markdownTable(['measure', ...results.map((r) => r.column.label)], rows), lost }
}
