/**
 * `npm run bench:cluster [-- --quick] [--seconds N] [--rate N] [--connections N] [--redis cluster]`
 *
 * With `--redis cluster`: the 3-node cluster over one Redis, over a Redis Cluster with classic pub/sub and with
 * sharded pub/sub, and a Redis primary failover (bench/cluster/redis-compare.ts); writes
 * bench/results/cluster-redis-cluster.md.
 *
 * Three gateway nodes sharing one Redis and one embedded MongoDB, a load generator holding every WebSocket and a
 * writer, each its own process. `connections` × 10 `orderChanged` subscriptions (two tenants, each filtered on a
 * customer, each write matching 3 subscriptions on 3 different nodes) spread evenly over the nodes; writes at a
 * fixed rate, each order stamped with `createdAt` by the writer just before the insert.
 *
 * Measured, in one invocation:
 * - baseline: the same subscriptions and writes against ONE node without Redis (in-process fan-out);
 * - cluster, steady: commit→client latency overall and split into clients of the stream's owner node and of the
 *   other nodes; Redis messages per event (a separate subscriber on `cg:stream:*` counts what crosses the
 *   channel); Redis commands per event (`INFO stats`); deliveries lost;
 * - cluster, takeover: the owner (from the admin `streams` query) is SIGKILLed mid-run; takeover time is from the
 *   kill to the first write committed after the kill reaching a client on a surviving node. The killed node's
 *   connections reconnect to the survivors with the last cursor of each subscription and are counted too.
 *
 * A full run writes bench/results/cluster.md; other runs write .bench-out/cluster.md. Exits non-zero when a
 * delivery was lost.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { SignJWT } from 'jose'
import { measureCpu, type CpuUse } from '../lib/cpu.js'
import { markdownTable } from '../lib/markdown.js'
import { freePort } from '../lib/ports.js'
import { startServerProcess, startWorker, type ServerProcess, type Worker } from '../lib/processes.js'
import { formatNumber, formatRatio, type LatencySummary } from '../lib/stats.js'
import type { CollectResult, GroupTally } from './clients.js'
import { createLayout, DATABASE_BASELINE, DATABASE_CLUSTER, decodeOrderHex, type Layout } from './layout.js'
import { runRedisComparison } from './redis-compare.js'
import type { PacedRequest, PacedResult } from './writer.js'
import { redisKeys } from '../../src/cluster/redis-scripts.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const TSX = ['--import', 'tsx']
const TENANTS = ['acme', 'globex'] as const
const NODES = 3
const LEASE_TTL_MS = 5_000
const PHASE = { baseWarmUp: 1, base: 2, warmUp: 11, steady: 12, takeover: 13 } as const
const IDLE_MS = 4_000
/** The takeover timeline starts this long before the kill. */
const TIMELINE_BEFORE_KILL_MS = 2_000
/** Steady phases report latency in windows this wide. */
const STEADY_WINDOW_MS = 5_000
const DRAIN_MS = 30_000
const CURSOR_SECRET = randomBytes(24).toString('hex')
const JWT_SECRET = randomBytes(32).toString('hex')

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log = (line: string) => process.stderr.write(`${line}\n`)

interface Options {
  readonly quick: boolean
  readonly connections: number
  readonly rate: number
  readonly seconds: number
  /** The takeover phase: writes for this long, the owner is killed `killAfterSeconds` in. */
  readonly takeoverSeconds: number
  readonly killAfterSeconds: number
  /** `cluster`: compare one Redis with a Redis Cluster instead of one node with three. */
  readonly redis: 'single' | 'cluster'
}

function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes('--quick')
  const value = (flag: string, fallback: number) => {
    const at = argv.indexOf(flag)
    if (at < 0) return fallback
    const n = Number(argv[at + 1])
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number`)
    return n
  }
  for (const arg of argv) {
    if (arg.startsWith('--') && !['--quick', '--seconds', '--rate', '--connections', '--redis'].includes(arg)) throw new Error(`unknown option ${arg}`)
  }
  const redisAt = argv.indexOf('--redis')
  const redis = redisAt < 0 ? 'single' : argv[redisAt + 1]
  if (redis !== 'single' && redis !== 'cluster') throw new Error('--redis takes single or cluster')
  return {
    quick,
    connections: value('--connections', quick ? 150 : 300),
    rate: value('--rate', 1000),
    seconds: value('--seconds', quick ? 5 : 20),
    takeoverSeconds: quick ? 12 : 15,
    killAfterSeconds: 3,
    redis,
  }
}

const sign = (tenant: string, scope?: string) =>
  new SignJWT({ tenant, scope })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(`bench-${tenant}`)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(JWT_SECRET))

interface StreamRow {
  readonly key: string
  readonly ownerNode: string | null
  readonly epoch: number | null
  readonly subscribers: number
}

async function streamsOf(url: string, token: string): Promise<StreamRow[]> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ streams { key ownerNode epoch subscribers } }' }),
    signal: AbortSignal.timeout(5_000),
  })
  const body = (await response.json()) as { data?: { streams: StreamRow[] }; errors?: unknown }
  if (!body.data) throw new Error(`streams query failed: ${JSON.stringify(body.errors)}`)
  return body.data.streams
}

interface Gateway {
  readonly id: string
  readonly process: ServerProcess
  readonly url: string
}

async function startGateway(uri: string, database: string, layout: Layout, nodeId: string, redisUrl?: string, extraEnv: readonly string[] = []): Promise<Gateway> {
  const env = [
    ...extraEnv,
    'PORT=0',
    'HOST=127.0.0.1',
    `MONGODB_URI=${uri}`,
    `MONGODB_DB=${database}`,
    ...(redisUrl ? [`REDIS_URL=${redisUrl}`] : []),
    `CHANGEGATE_JWT_SECRET=${JWT_SECRET}`,
    `CHANGEGATE_CURSOR_SECRET=${CURSOR_SECRET}`,
    `CHANGEGATE_NODE_ID=${nodeId}`,
    'CHANGEGATE_DEMO=0',
    'CHANGEGATE_LOG_LEVEL=warn',
    // Every connection comes from one address: lift the per-address and per-tenant caps above the benchmark's count.
    `CHANGEGATE_MAX_CONNECTIONS_PER_IP=${layout.connections + 16}`,
    `CHANGEGATE_MAX_CONNECTIONS_PER_TENANT=${layout.connections + 16}`,
  ]
  // Gateways start together, each compiling the sources through tsx: on a busy machine that takes longer than 30 s.
  const child = await startServerProcess({
    command: 'env',
    args: [...env, process.execPath, ...TSX, 'src/main.ts'],
    cwd: ROOT,
    readyPattern: /(http:\/\/\S+\/graphql)/,
    readyTimeoutMs: 120_000,
  })
  return { id: nodeId, process: child, url: child.ready[1] }
}

type Send = (request: Omit<PacedRequest, 'layout' | 'database'>) => Promise<PacedResult>

async function waitSubscribed(gateways: readonly Gateway[], admin: string, want: number): Promise<number> {
  const started = performance.now()
  for (;;) {
    const counts = await Promise.all(gateways.map(async (g) => (await streamsOf(g.url, admin)).reduce((sum, s) => sum + s.subscribers, 0)))
    const total = counts.reduce((a, b) => a + b, 0)
    if (total >= want) return performance.now() - started
    if (performance.now() - started > 120_000) throw new Error(`only ${total} of ${want} subscriptions live after 120 s (${counts.join(', ')})`)
    await sleep(250)
  }
}

/** Whole rounds (one write per customer) until every subscription received one, at least twice. */
async function warmUp(layout: Layout, phase: number, rate: number, send: Send, clients: Worker): Promise<void> {
  const started = performance.now()
  for (let round = 0; ; round++) {
    const write = await send({ phase, firstSeq: round * layout.customers, count: layout.customers, rate })
    if (write.failed) throw new Error(`warm-up: ${write.failed} writes failed`)
    let reached = 0
    for (const until = performance.now() + 5_000; performance.now() < until; await sleep(100)) {
      reached = await clients.request<number>('reached', phase)
      if (reached === layout.subscriptions) break
    }
    if (reached === layout.subscriptions && round >= 1) return
    if (performance.now() - started > 90_000) throw new Error(`warm-up: only ${reached} of ${layout.subscriptions} subscriptions received anything`)
  }
}

/** Counts what crosses the stream's channel, by phase: a subscriber of its own, like any node's. */
function channelCounter(redisUrl: string, channel: string) {
  const redis = new Redis(redisUrl, { lazyConnect: true })
  const byPhase = new Map<number, { events: number; seqs: Set<number>; publishers: Map<string, number>; firstAt: Map<string, number>; arrivals: number[] }>()
  let positions = 0
  let other = 0
  let undecodable = 0
  const ID = /"documentKey":\{"_id":\{"\$oid":"([0-9a-f]{24})"/
  redis.on('message', (_channel: string, message: string) => {
    const first = message.indexOf('\n')
    const second = message.indexOf('\n', first + 1)
    if (first < 0 || second < 0) return void undecodable++
    const body = message.slice(second + 1)
    if (body.startsWith('{"kind":"position"')) return void positions++
    const match = ID.exec(body)
    const id = match ? decodeOrderHex(match[1]) : undefined
    if (!id) return void (body.includes('"kind":"event"') ? other++ : undecodable++)
    let entry = byPhase.get(id.phase)
    if (!entry) byPhase.set(id.phase, (entry = { events: 0, seqs: new Set(), publishers: new Map(), firstAt: new Map(), arrivals: [] }))
    entry.arrivals.push(Date.now())
    entry.events++
    entry.seqs.add(id.seq)
    let publisher = '?'
    try {
      publisher = (JSON.parse(message.slice(first + 1, second)) as { nodeId: string; epoch: number }).nodeId
    } catch {
      // Counted under '?'.
    }
    entry.publishers.set(publisher, (entry.publishers.get(publisher) ?? 0) + 1)
    if (!entry.firstAt.has(publisher)) entry.firstAt.set(publisher, Date.now())
  })
  return {
    start: async () => {
      await redis.connect()
      await redis.subscribe(channel)
    },
    phase: (phase: number) =>
      byPhase.get(phase) ?? { events: 0, seqs: new Set<number>(), publishers: new Map<string, number>(), firstAt: new Map<string, number>(), arrivals: [] as number[] },
    totals: () => ({ positions, other, undecodable }),
    stop: () => redis.quit().catch(() => undefined),
  }
}

async function commandsProcessed(redisUrl: string): Promise<number> {
  const redis = new Redis(redisUrl)
  try {
    const info = await redis.info('stats')
    return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN)
  } finally {
    await redis.quit()
  }
}

interface Phase {
  readonly write: PacedResult
  readonly tally: CollectResult
  readonly cpu?: CpuUse
}

async function steadyPhase(o: Options, layout: Layout, phase: number, send: Send, clients: Worker, pids: Record<string, number>, split?: number): Promise<Phase> {
  const done = measureCpu(pids)
  const write = await send({ phase, firstSeq: 0, count: Math.round(o.rate * o.seconds), rate: o.rate, deadlineMs: o.seconds * 1000 + 2_000 })
  const cpu = done()
  const tally = await clients.request<CollectResult>(
    'collect',
    { phase, writes: write.sent, idleMs: IDLE_MS, timeoutMs: DRAIN_MS, split, timeline: { origin: write.startedAt, windowMs: STEADY_WINDOW_MS } },
    DRAIN_MS + 30_000,
  )
  return { write, tally, cpu }
}

interface Baseline {
  readonly steady: Phase
}

async function runBaseline(o: Options, layout: Layout, uri: string, writer: Worker, mongoPid: number): Promise<Baseline> {
  const gateway = await startGateway(uri, DATABASE_BASELINE, layout, 'single')
  log(`baseline: one node without Redis, pid ${gateway.process.pid} at ${gateway.url}`)
  const clients = await startWorker({ file: join(ROOT, 'bench/cluster/clients.ts'), execArgv: TSX })
  try {
    const admin = await sign(TENANTS[0], 'admin')
    const tokens = await Promise.all(TENANTS.map((t) => sign(t)))
    await clients.request('connect', { urls: [gateway.url.replace(/^http/, 'ws')], layout, tokens, concurrency: 50 }, 180_000)
    await clients.request('subscribe')
    await waitSubscribed([gateway], admin, layout.subscriptions)
    const send: Send = (r) => writer.request<PacedResult>('paced', { ...r, layout, database: DATABASE_BASELINE }, (r.count / r.rate) * 1000 + 120_000)
    log('baseline: warm-up')
    await warmUp(layout, PHASE.baseWarmUp, o.rate, send, clients)
    log(`baseline: ${o.rate}/s for ${o.seconds} s`)
    const steady = await steadyPhase(o, layout, PHASE.base, send, clients, { gateway: gateway.process.pid, mongo: mongoPid, clients: clients.pid, writer: writer.pid })
    log(`  received ${steady.tally.all.received}/${steady.tally.all.expected}, p50 ${steady.tally.all.latencyMs.p50} ms, p99 ${steady.tally.all.latencyMs.p99} ms`)
    await clients.request('close', undefined, 30_000)
    return { steady }
  } finally {
    await clients.stop()
    await gateway.process.stop(10_000)
  }
}

interface ChannelCount {
  readonly events: number
  readonly distinct: number
  readonly publishers: Record<string, number>
  /** Epoch ms of each publisher's first event message. */
  readonly firstAt: Record<string, number>
  /** Epoch ms of each event message's arrival at the counter. */
  readonly arrivals: readonly number[]
}

interface ClusterRun {
  readonly owner: { readonly node: string; readonly epoch: number | null }
  readonly steady: Phase
  readonly channel: ChannelCount
  readonly commandsPerEvent: number
  readonly takeover: {
    readonly write: PacedResult
    readonly tally: CollectResult
    readonly killedAt: number
    readonly writesAfterKill: number
    /** First arrival, on a surviving node's original client, of a write committed after the kill. */
    readonly firstDeliveryMs: number
    /** When a survivor's `streams` first named a new owner. */
    readonly newOwner?: { readonly node: string; readonly epoch: number | null; readonly seenMs: number }
    readonly moved: { readonly connections: number; readonly ms: number }
    readonly killedIndex: number
    readonly channel: ChannelCount
  }
  readonly channelTotals: { positions: number; other: number; undecodable: number }
}

async function runCluster(o: Options, layout: Layout, uri: string, writer: Worker, mongoPid: number): Promise<ClusterRun> {
  const redisPort = await freePort()
  const redis = await startServerProcess({
    command: '/usr/bin/redis-server',
    args: ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    readyPattern: /Ready to accept connections/,
  })
  const redisUrl = `redis://127.0.0.1:${redisPort}`
  const gateways: Gateway[] = []
  let clients: Worker | undefined
  const counter = channelCounter(redisUrl, redisKeys().channel(`${DATABASE_CLUSTER}.orders`))
  try {
    gateways.push(...(await Promise.all(Array.from({ length: NODES }, (_, i) => startGateway(uri, DATABASE_CLUSTER, layout, `node-${i}`, redisUrl)))))
    log(`cluster: redis pid ${redis.pid}; nodes ${gateways.map((g) => `${g.id} pid ${g.process.pid} at ${g.url}`).join(', ')}`)
    clients = await startWorker({ file: join(ROOT, 'bench/cluster/clients.ts'), execArgv: TSX })
    const admin = await sign(TENANTS[0], 'admin')
    const tokens = await Promise.all(TENANTS.map((t) => sign(t)))
    await clients.request('connect', { urls: gateways.map((g) => g.url.replace(/^http/, 'ws')), layout, tokens, concurrency: 50 }, 180_000)
    await clients.request('subscribe')
    await waitSubscribed(gateways, admin, layout.subscriptions)
    const send: Send = (r) => writer.request<PacedResult>('paced', { ...r, layout, database: DATABASE_CLUSTER }, (r.count / r.rate) * 1000 + 120_000)
    await counter.start()
    log('cluster: warm-up')
    await warmUp(layout, PHASE.warmUp, o.rate, send, clients)
    const key = `${DATABASE_CLUSTER}.orders`
    const row = (await streamsOf(gateways[0].url, admin)).find((s) => s.key === key)
    if (!row?.ownerNode) throw new Error(`no owner for ${key} on ${gateways[0].id}: ${JSON.stringify(row)}`)
    const ownerIndex = gateways.findIndex((g) => g.id === row.ownerNode)
    if (ownerIndex < 0) throw new Error(`owner ${row.ownerNode} is not one of the nodes`)
    log(`cluster: owner of ${key} is ${row.ownerNode} (epoch ${row.epoch})`)

    const pids: Record<string, number> = Object.fromEntries(gateways.map((g) => [g.id === row.ownerNode ? `${g.id} (owner)` : g.id, g.process.pid]))
    Object.assign(pids, { redis: redis.pid, mongo: mongoPid, clients: clients.pid, writer: writer.pid, 'bench (channel counter)': process.pid })
    const commandsBefore = await commandsProcessed(redisUrl)
    log(`cluster: ${o.rate}/s for ${o.seconds} s`)
    const steady = await steadyPhase(o, layout, PHASE.steady, send, clients, pids, ownerIndex)
    const commandsAfter = await commandsProcessed(redisUrl)
    log(`  received ${steady.tally.all.received}/${steady.tally.all.expected}, p50 ${steady.tally.all.latencyMs.p50} ms, p99 ${steady.tally.all.latencyMs.p99} ms`)
    const channelOf = (phase: number) => {
      const c = counter.phase(phase)
      return { events: c.events, distinct: c.seqs.size, publishers: Object.fromEntries(c.publishers), firstAt: Object.fromEntries(c.firstAt), arrivals: c.arrivals }
    }

    // Takeover: kill the owner mid-run, move its clients to the survivors.
    log(`cluster: takeover: ${o.rate}/s for ${o.takeoverSeconds} s, SIGKILL ${row.ownerNode} after ${o.killAfterSeconds} s`)
    const survivors = gateways.map((_, i) => i).filter((i) => i !== ownerIndex)
    const writing = send({ phase: PHASE.takeover, firstSeq: 0, count: Math.round(o.rate * o.takeoverSeconds), rate: o.rate, deadlineMs: o.takeoverSeconds * 1000 + 2_000 })
    await sleep(o.killAfterSeconds * 1000)
    const owner = gateways[ownerIndex]
    process.kill(owner.process.pid, 'SIGKILL')
    const killedAt = Date.now()
    await owner.process.exited
    const moving = clients.request<{ connections: number; ms: number }>('move', { from: ownerIndex, to: survivors }, 120_000)
    let newOwner: ClusterRun['takeover']['newOwner']
    while (!newOwner && Date.now() - killedAt < 30_000) {
      const seen = await streamsOf(gateways[survivors[0]].url, admin).catch(() => [] as StreamRow[])
      const now = Date.now()
      const s = seen.find((x) => x.key === key)
      if (s?.ownerNode && s.ownerNode !== owner.id) newOwner = { node: s.ownerNode, epoch: s.epoch, seenMs: now - killedAt }
      else await sleep(100)
    }
    const moved = await moving
    const write = await writing
    const writesAfterKill = Math.max(0, write.sent - Math.floor(((killedAt - write.startedAt) * o.rate) / 1000))
    const tally = await clients.request<CollectResult>(
      'collect',
      { phase: PHASE.takeover, writes: write.sent, idleMs: IDLE_MS, timeoutMs: DRAIN_MS, since: killedAt, split: ownerIndex, timeline: { origin: killedAt - TIMELINE_BEFORE_KILL_MS, windowMs: 1_000, exclude: ownerIndex } },
      DRAIN_MS + 30_000,
    )
    const firstSurvivor = Math.min(...survivors.map((i) => tally.byNode[i].firstArrivalSince ?? Number.POSITIVE_INFINITY))
    log(`  takeover ${firstSurvivor - killedAt} ms; received ${tally.all.received}/${tally.all.expected}`)
    await clients.request('close', undefined, 30_000)
    return {
      owner: { node: row.ownerNode, epoch: row.epoch },
      steady,
      channel: channelOf(PHASE.steady),
      commandsPerEvent: (commandsAfter - commandsBefore) / steady.write.sent,
      takeover: { write, tally, killedAt, writesAfterKill, firstDeliveryMs: firstSurvivor - killedAt, newOwner, moved, killedIndex: ownerIndex, channel: channelOf(PHASE.takeover) },
      channelTotals: counter.totals(),
    }
  } finally {
    await counter.stop()
    await clients?.stop()
    await Promise.all(gateways.map((g) => g.process.stop(10_000)))
    await redis.stop()
  }
}

const windowsP99 = (t: CollectResult) => (t.timeline ?? []).map((w) => formatNumber(w.p99)).join(', ') + ' ms'
/** Cores the machine was busy with beyond the processes measured. */
const othersCores = (cpu: CpuUse | undefined) =>
  cpu ? cpu.machineCores - Object.values(cpu.processCores).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) : Number.NaN
const ms = (value: number) => (Number.isFinite(value) ? `${formatNumber(value)} ms` : '—')
const lat = (s: LatencySummary) => `${ms(s.p50)} / ${ms(s.p99)}`
const deliveries = (g: GroupTally) => `${g.received.toLocaleString('en-US')} of ${g.expected.toLocaleString('en-US')} (lost ${g.lost})`

function render(o: Options, layout: Layout, base: Baseline, c: ClusterRun, meta: Record<string, string>): { text: string; lost: number } {
  const b = base.steady.tally
  const s = c.steady.tally
  const t = c.takeover.tally
  const survivors = t.byNode.filter((_, i) => i !== c.takeover.killedIndex)
  const survivorLost = survivors.reduce((sum, g) => sum + g.lost, 0)
  const movedLost = t.byNode[c.takeover.killedIndex].lost
  const lost = b.all.lost + s.all.lost + survivorLost + movedLost
  const p = (x: number) => formatNumber(x)
  const rows: string[][] = [
    ['commit→client p50 / p99, all clients', lat(b.all.latencyMs), lat(s.all.latencyMs), `${formatRatio(s.all.latencyMs.p50, b.all.latencyMs.p50)} / ${formatRatio(s.all.latencyMs.p99, b.all.latencyMs.p99)}`, 'p99 ≤ 150 ms'],
    [`… clients on the owner node (${c.owner.node})`, '—', lat(s.split!.node.latencyMs), `${formatRatio(s.split!.node.latencyMs.p50, b.all.latencyMs.p50)} / ${formatRatio(s.split!.node.latencyMs.p99, b.all.latencyMs.p99)}`, ''],
    ['… clients on the other nodes', '—', lat(s.split!.others.latencyMs), `${formatRatio(s.split!.others.latencyMs.p50, b.all.latencyMs.p50)} / ${formatRatio(s.split!.others.latencyMs.p99, b.all.latencyMs.p99)}`, 'p99 ≤ 150 ms'],
    ['commit→client max', ms(b.all.latencyMs.max), ms(s.all.latencyMs.max), formatRatio(s.all.latencyMs.max, b.all.latencyMs.max), ''],
    ['writes (events)', b.all.expected ? base.steady.write.sent.toLocaleString('en-US') : '0', c.steady.write.sent.toLocaleString('en-US'), '', ''],
    ['deliveries received', deliveries(b.all), deliveries(s.all), '', 'lost 0'],
    ['duplicates / misrouted', `${b.duplicates} / ${b.misrouted}`, `${s.duplicates} / ${s.misrouted}`, '', '0 / 0'],
    ['Redis event messages per event (channel subscriber)', '—', `${p(c.channel.events / c.steady.write.sent)} (${c.channel.events.toLocaleString('en-US')} messages, ${c.channel.distinct.toLocaleString('en-US')} distinct)`, '', '1'],
    ['Redis commands per event (INFO stats, all clients)', '—', p(c.commandsPerEvent), '', ''],
    ['p99 by 5 s window', windowsP99(b), windowsP99(s), '', ''],
    ['cores used by other processes on the machine', formatNumber(othersCores(base.steady.cpu)), formatNumber(othersCores(c.steady.cpu)), '', ''],
    ['writer lag max', ms(base.steady.write.maxLagMs), ms(c.steady.write.maxLagMs), '', ''],
  ]
  const takeoverRows: string[][] = [
    ['owner killed', `${c.owner.node} (epoch ${c.owner.epoch}), SIGKILL ${o.killAfterSeconds} s into ${o.takeoverSeconds} s of writes at ${o.rate}/s`],
    ['kill → first write committed after the kill at a surviving node\'s client', `${ms(c.takeover.firstDeliveryMs)} (aim ≤ ${LEASE_TTL_MS / 1000 + 1} s)`],
    ['kill → a survivor\'s `streams` names the new owner', c.takeover.newOwner ? `${ms(c.takeover.newOwner.seenMs)} (${c.takeover.newOwner.node}, epoch ${c.takeover.newOwner.epoch})` : 'not seen in 30 s'],
    [
      'kill → the new owner\'s first event message on the Redis channel',
      c.takeover.newOwner && c.takeover.channel.firstAt[c.takeover.newOwner.node] !== undefined
        ? ms(c.takeover.channel.firstAt[c.takeover.newOwner.node] - c.takeover.killedAt)
        : '—',
    ],
    ['writes in the phase / after the kill', `${c.takeover.write.sent.toLocaleString('en-US')} / ${c.takeover.writesAfterKill.toLocaleString('en-US')}`],
    ['deliveries, clients of surviving nodes', survivors.map((g) => deliveries(g)).join('; ')],
    ['deliveries, clients moved from the killed node (resubscribed `after:` last cursor)', `${deliveries(t.byNode[c.takeover.killedIndex])}; ${c.takeover.moved.connections} connections reopened in ${ms(c.takeover.moved.ms)}`],
    ['duplicates / misrouted', `${t.duplicates} / ${t.misrouted}`],
    ['commit→client p50 / p99 over the phase, survivors\' clients', lat(t.split!.others.latencyMs)],
    ['Redis event messages in the phase, by publisher', `${Object.entries(c.takeover.channel.publishers).map(([n, k]) => `${n}: ${k.toLocaleString('en-US')}`).join(', ')} (${c.takeover.channel.distinct.toLocaleString('en-US')} distinct events)`],
    ['subscriptions ended by the server (code: count)', JSON.stringify(t.ended)],
  ]
  const origin = c.takeover.killedAt - TIMELINE_BEFORE_KILL_MS
  const published: number[] = []
  for (const at of c.takeover.channel.arrivals) {
    const w = Math.floor((at - origin) / 1000)
    if (w >= 0) published[w] = (published[w] ?? 0) + 1
  }
  const timeline = (t.timeline ?? []).map((w, i) => [
    `${formatNumber((w.fromMs - TIMELINE_BEFORE_KILL_MS) / 1000)} s`,
    (published[i] ?? 0).toLocaleString('en-US'),
    w.count.toLocaleString('en-US'),
    w.sinceCount.toLocaleString('en-US'),
    ms(w.p50),
    ms(w.max),
  ])
  const cpu = c.steady.cpu
  const cpuRows = cpu ? Object.entries(cpu.processCores).map(([label, cores]) => [label, formatNumber(cores)]) : []
  if (cpu) cpuRows.push(['machine (all processes)', formatNumber(cpu.machineCores)])
  const baseCpu = base.steady.cpu?.processCores.gateway
  const text = [
    '# Cluster benchmark',
    '',
    `Command: \`${meta.command}\`  `,
    `Date: ${meta.date} · Node ${meta.node} · nproc ${meta.nproc} · revision ${meta.revision} · wall time ${meta.wall} s`,
    '',
    `${layout.connections} WebSocket connections × ${layout.subscriptionsPerConnection} \`orderChanged\` subscriptions = ${layout.subscriptions.toLocaleString('en-US')}, ` +
      `${layout.tenants.length} tenants, ${layout.customers.toLocaleString('en-US')} customers, each write matching ${layout.fanout} subscriptions (one on each node). ` +
      `Writes at ${o.rate}/s for ${o.seconds} s, \`createdAt = Date.now()\` set by the writer just before the insert; latency is the client's \`Date.now()\` at receipt minus \`createdAt\`. ` +
      'Processes: embedded MongoDB, redis-server, the gateway node(s), one load-generator process holding every socket, one writer.',
    '',
    `Baseline: the same subscriptions and writes against one node without \`REDIS_URL\` (in-process fan-out), measured in the same invocation. Ratios are cluster ÷ baseline.`,
    '',
    '## Steady state',
    '',
    markdownTable(['measure', 'single node (baseline)', `cluster (${NODES} nodes)`, 'ratio', 'aim'], rows),
    '',
    '## Owner takeover',
    '',
    markdownTable(['measure', 'value'], takeoverRows),
    '',
    'Deliveries to the clients of the surviving nodes around the kill, by second (0 s = the kill):',
    '',
    markdownTable(['from', 'event messages on the channel', 'deliveries', 'of writes after the kill', 'p50', 'max'], timeline),
    '',
    '## CPU during the cluster steady phase (cores, average)',
    '',
    markdownTable(['process', 'cores'], cpuRows),
    '',
    baseCpu !== undefined ? `Baseline single node: ${formatNumber(baseCpu)} cores.` : '',
    '',
    `Result: ${lost === 0 ? 'no delivery lost' : `${lost} deliveries LOST`}.`,
  ].join('\n')
  return { text, lost }
}

function revision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim()
    return dirty ? `${head} with uncommitted changes in src/` : head
  } catch {
    return 'unknown'
  }
}

/** `--redis cluster`: one Redis against a Redis Cluster, classic and sharded, same layout and load. */
async function compareRedis(o: Options, layout: Layout, uri: string, mongo: ServerProcess, argv: readonly string[], measuredRevision: string, started: number): Promise<number> {
  let result: { table: string; lost: number }
  let load = ''
  try {
    const writer = await startWorker({ file: join(ROOT, 'bench/cluster/writer.ts'), args: [uri], execArgv: TSX })
    try {
      const admin = await sign(TENANTS[0], 'admin')
      const tokens = await Promise.all(TENANTS.map((t) => sign(t)))
      load = execFileSync('uptime', { encoding: 'utf8' }).trim()
      result = await runRedisComparison({
        layout,
        uri,
        writer,
        rate: o.rate,
        seconds: o.seconds,
        takeoverSeconds: o.takeoverSeconds,
        killAfterSeconds: o.killAfterSeconds,
        log,
        async startGateway(database, nodeId, redisUrl, extraEnv) {
          const g = await startGateway(uri, database, layout, nodeId, redisUrl, extraEnv)
          return { id: g.id, url: g.url, pid: g.process.pid, stop: () => g.process.stop(10_000).then(() => undefined) }
        },
        async startClients(urls) {
          const clients = await startWorker({ file: join(ROOT, 'bench/cluster/clients.ts'), execArgv: TSX })
          await clients.request('connect', { urls: urls.map((u) => u.replace(/^http/, 'ws')), layout, tokens, concurrency: 50 }, 180_000)
          await clients.request('subscribe')
          return clients
        },
        async waitSubscribed(urls) {
          await waitSubscribed(urls.map((url, i) => ({ id: `node-${i}`, url }) as Gateway), admin, layout.subscriptions)
        },
        warmUp: (phase, send, clients) => warmUp(layout, phase, o.rate, send, clients),
      })
      load = `${load} (start); ${execFileSync('uptime', { encoding: 'utf8' }).trim()} (end)`
      await writer.request('close', undefined, 10_000).catch(() => undefined)
    } finally {
      await writer.stop()
    }
  } finally {
    await mongo.stop()
  }
  const command = `npm run bench:cluster -- ${argv.join(' ')}`
  const text = [
    '# Cluster benchmark: one Redis against a Redis Cluster',
    '',
    `Command: \`${command}\`  `,
    `Date: ${new Date().toISOString()} · Node ${process.version} · nproc ${execFileSync('nproc', { encoding: 'utf8' }).trim()} · revision ${measuredRevision} · wall time ${formatNumber((performance.now() - started) / 1000)} s  `,
    `Machine load (uptime): ${load}`,
    '',
    `3 gateway nodes, ${layout.connections} WebSocket connections × ${layout.subscriptionsPerConnection} \`orderChanged\` subscriptions = ${layout.subscriptions.toLocaleString('en-US')}, ` +
      `each write matching ${layout.fanout} subscriptions (one on each node), writes at ${o.rate}/s for ${o.seconds} s per column; then, on the clusters, ${o.takeoverSeconds} s of writes ` +
      `with the primary serving the stream's slot SIGKILLed ${o.killAfterSeconds} s in (cluster-node-timeout 1000 ms; its replica is promoted). ` +
      'Everything (embedded MongoDB, 1 or 6 redis-servers, 3 gateways, the load generator, the writer) on this one machine. Columns ran one after the other in this invocation.',
    '',
    result.table,
    '',
    `Result: ${result.lost === 0 ? 'no delivery lost' : `${result.lost} deliveries missing when the ${DRAIN_MS / 1000} s drain ended (late or lost)`}.`,
  ].join('\n')
  process.stdout.write(`${text}\n`)
  const path = o.quick ? join(ROOT, '.bench-out/cluster-redis-cluster.md') : join(ROOT, 'bench/results/cluster-redis-cluster.md')
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${text}\n`)
  log(`report written to ${path}`)
  return result.lost === 0 ? 0 : 1
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2)
  const o = parseOptions(argv)
  const layout = createLayout({ connections: o.connections, subscriptionsPerConnection: 10, tenants: TENANTS, fanout: NODES })
  if (o.connections % (NODES * TENANTS.length) !== 0) throw new Error(`--connections must be a multiple of ${NODES * TENANTS.length}`)
  const started = performance.now()
  const measuredRevision = revision()
  const port = await freePort()
  const mongo = await startServerProcess({ command: process.execPath, args: [...TSX, 'src/embedded/cli.ts', '--port', String(port)], cwd: ROOT, readyPattern: /(mongodb:\/\/\S+)/ })
  const uri = mongo.ready[1]
  log(`embedded MongoDB pid ${mongo.pid} at ${uri}`)
  if (o.redis === 'cluster') return compareRedis(o, layout, uri, mongo, argv, measuredRevision, started)
  let base: Baseline
  let cluster: ClusterRun
  try {
    const writer = await startWorker({ file: join(ROOT, 'bench/cluster/writer.ts'), args: [uri], execArgv: TSX })
    try {
      base = await runBaseline(o, layout, uri, writer, mongo.pid)
      cluster = await runCluster(o, layout, uri, writer, mongo.pid)
      await writer.request('close', undefined, 10_000).catch(() => undefined)
    } finally {
      await writer.stop()
    }
  } finally {
    await mongo.stop()
  }
  const full = argv.length === 0
  const command = process.env.npm_lifecycle_event === 'bench:cluster' ? `npm run bench:cluster${argv.length ? ` -- ${argv.join(' ')}` : ''}` : `tsx bench/cluster/run.ts ${argv.join(' ')}`.trim()
  const { text, lost } = render(o, layout, base, cluster, {
    command,
    date: new Date().toISOString(),
    node: process.version,
    nproc: execFileSync('nproc', { encoding: 'utf8' }).trim(),
    revision: measuredRevision,
    wall: formatNumber((performance.now() - started) / 1000),
  })
  process.stdout.write(`${text}\n`)
  const path = full ? join(ROOT, 'bench/results/cluster.md') : join(ROOT, '.bench-out/cluster.md')
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${text}\n`)
  log(`report written to ${path}`)
  return lost === 0 ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`bench:cluster failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  },
)
