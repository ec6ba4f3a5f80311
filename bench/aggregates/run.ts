/**
 * `npm run bench:aggregates [-- --quick] [--runs aggregates,baseline,unthrottled] [...]` (options.ts lists every flag)
 *
 * Live aggregates against raw changes totalled in the client, in one invocation: an embedded MongoDB server, a writer
 * at 1,000 writes/s (inserts, updates, deletes over two tenants), a driver change stream recording each commit's
 * wall time, and for each run a fresh gateway process with 1,000 WebSocket subscriptions (100 distinct combinations
 * of tenant, where, groupBy and window, 10 subscribers each):
 * - aggregates: `orderAggregate`, default throttle;
 * - baseline: `orderChanged(filter: { where })` with the same `where`, the client keeping the totals;
 * - unthrottled: `orderAggregate` with `throttleMs: 0`.
 * Per run: gateway and client CPU per 1,000 writes, WebSocket messages and bytes per write, commit→emission latency,
 * gateway RSS.
 *
 * A full run (no flags) writes bench/results/aggregates.md (text below its `<!-- analysis -->` line is kept); other
 * runs write .bench-out/aggregates.md.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { measureCpu } from '../lib/cpu.js'
import { summarizeCpuProfile } from '../lib/cpu-profile.js'
import { freePort } from '../lib/ports.js'
import { startServerProcess, startWorker, type Worker } from '../lib/processes.js'
import { createSamples } from '../lib/stats.js'
import { ROOT, rssKb, startGateway, TSX, waitForSubscribers } from '../fanout/gateway-process.js'
import { renderProfile } from '../fanout/report.js'
import { createLayout, TENANTS, type Layout } from './layout.js'
import { isFullRun, parseOptions, type Options, type RunName } from './options.js'
import type { PhaseSamples, ReceiverCounts } from './protocol.js'
import { renderReport, type RunResult } from './report.js'
import type { MixedRequest, MixedResult } from './writer.js'

/**
 * After the last write, the phase ends once a receiver got the last measured commit and then no message came for
 * QUIET_MS, or after DRAIN_LIMIT_MS.
 */
const QUIET_MS = 1_000
const DRAIN_LIMIT_MS = 60_000
const WRITE_OVERRUN_MS = 2_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log = (line: string) => process.stderr.write(`${line}\n`)

const THROTTLE: Record<RunName, number | null> = { aggregates: null, baseline: null, unthrottled: 0 }

interface Shared {
  readonly o: Options
  readonly layout: Layout
  readonly uri: string
  readonly writer: Worker
  readonly clock: Worker
  readonly mongoPid: number
}

const write = (s: Shared, seconds: number, overrunMs: number) =>
  s.writer.request<MixedResult>('mixed', { count: Math.round(s.o.rate * seconds), rate: s.o.rate, deadlineMs: seconds * 1000 + overrunMs } satisfies MixedRequest, seconds * 1000 + 120_000)

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const started = performance.now()
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not after ${timeoutMs} ms`)
    await sleep(200)
  }
}

async function runOne(s: Shared, name: RunName): Promise<{ result: RunResult; gatewayCommand: string }> {
  const { o, layout } = s
  const mode = name === 'baseline' ? 'baseline' : 'aggregates'
  const profileDir = o.profile ? join(ROOT, '.bench-out', `aggregates-profile-${name}-${Date.now()}`) : undefined
  const gateway = await startGateway({ mongodbUri: s.uri, connections: layout.connections, profileDir })
  log(`${name}: gateway pid ${gateway.pid} at ${gateway.url}`)
  const clients = await startWorker({ file: join(ROOT, 'bench/aggregates/clients.ts'), execArgv: [...TSX] })
  try {
    const tokens = await Promise.all(TENANTS.map((t) => gateway.sign(t)))
    await clients.request('connect', { url: gateway.url.replace(/^http/, 'ws'), layout, tokens, mode, throttleMs: THROTTLE[name] }, 120_000)
    log(`${name}: ${layout.connections} WebSockets open, subscribing ${layout.subscriptions}`)
    const subscribeStart = performance.now()
    await clients.request('subscribe')
    if (mode === 'aggregates') {
      // Every aggregate subscription sends its first value once it is computed.
      await waitUntil('first values', async () => (await clients.request<ReceiverCounts>('counts')).reached === layout.subscriptions, 180_000)
    } else {
      await waitForSubscribers(gateway, layout.subscriptions, 180_000)
    }
    const subscribeMs = performance.now() - subscribeStart
    log(`${name}: subscribed in ${Math.round(subscribeMs)} ms; warm-up ${o.warmUpSeconds} s`)
    if (o.warmUpSeconds > 0) await write(s, o.warmUpSeconds, WRITE_OVERRUN_MS)
    await sleep(1_500)
    const warm = await clients.request<ReceiverCounts>('counts')
    if (warm.reached < layout.subscriptions) log(`${name}: ${layout.subscriptions - warm.reached} subscriptions got nothing during warm-up`)

    await clients.request('reset')
    const pids = { gateway: gateway.pid, clients: clients.pid, mongo: s.mongoPid, writer: s.writer.pid, clock: s.clock.pid }
    const done = measureCpu(pids)
    log(`${name}: ${o.rate} writes/s for ${o.seconds} s`)
    const written = await write(s, o.seconds, WRITE_OVERRUN_MS)
    const drainStart = performance.now()
    const lastCommit = await s.clock.request<number>('last', { from: written.startedAt, to: written.endedAt })
    let drained = false
    await waitUntil(
      'drain',
      async () => {
        const c = await clients.request<ReceiverCounts>('counts')
        drained = c.maxCommit >= lastCommit && Date.now() - Math.max(c.lastAt, written.endedAt) >= QUIET_MS
        return drained || performance.now() - drainStart > DRAIN_LIMIT_MS
      },
      DRAIN_LIMIT_MS + 5_000,
    )
    const cpu = done()
    const rawRss = rssKb(gateway.pid)
    const samples = await clients.request<PhaseSamples>('samples', undefined, 60_000)
    const memory = await gateway.memory()
    const commits = await s.clock.request<number>('count', { from: written.startedAt, to: written.endedAt })
    const wall = await s.clock.request<Float64Array>('lookup', samples.commits, 60_000)
    const latency = createSamples(samples.commits.length)
    let unmatched = 0
    let outside = 0
    for (let n = 0; n < wall.length; n++) {
      if (Number.isNaN(wall[n])) unmatched++
      else if (wall[n] < written.startedAt || wall[n] > written.endedAt) outside++
      else latency.add(samples.receivedAt[n] - wall[n])
    }
    const cpuSeconds = Object.fromEntries(Object.entries(cpu.processCores).map(([label, cores]) => [label, cores * cpu.wallSeconds]))
    const result: RunResult = {
      name,
      throttleMs: THROTTLE[name],
      subscribeMs,
      write: written,
      commits,
      cpu,
      cpuSeconds,
      messages: samples.messages,
      bytes: samples.bytes,
      values: samples.values,
      latencyMs: latency.summarize(),
      unmatched,
      outside,
      ended: samples.ended,
      dropped: samples.dropped,
      rssKb: rawRss,
      rssAfterGcKb: memory.gcKb,
      clientTotals: samples.clientTotals,
      drainSeconds: drained ? (performance.now() - drainStart) / 1000 : Number.NaN,
    }
    log(
      `${name}: ${written.changes} writes, gateway ${result.cpuSeconds.gateway.toFixed(2)} s CPU, ${samples.messages} messages, ` +
        `${result.latencyMs.count} samples (${outside} outside the writes, ${unmatched} unmatched), p99 ${result.latencyMs.p99} ms, ended ${JSON.stringify(samples.ended)}`,
    )
    await clients.request('close', undefined, 30_000)
    return { result, gatewayCommand: gateway.command }
  } finally {
    await clients.stop()
    const exit = await gateway.stop()
    if (exit.code !== 0) log(`gateway exited with code ${exit.code}, signal ${exit.signal}\n${gateway.output().slice(-2000)}`)
    if (profileDir) writeProfile(profileDir, name)
  }
}

/** The gateway's hottest functions over its whole life (subscribing and warm-up included). */
function writeProfile(dir: string, name: RunName): void {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) {
    log(`${name}: no CPU profile in ${dir}`)
    return
  }
  const path = join(ROOT, '.bench-out', `aggregates-profile-${name}.md`)
  writeFileSync(path, `${renderProfile(summarizeCpuProfile(join(dir, file), { root: ROOT, top: 30 }), join(dir, file))}\n`)
  log(`${name}: gateway CPU profile summary in ${path}`)
}

function revision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench/aggregates'], { cwd: ROOT, encoding: 'utf8' }).trim()
    return dirty ? `${head} with uncommitted changes` : head
  } catch {
    return 'unknown'
  }
}

function commandLine(argv: readonly string[]): string {
  const args = argv.length ? ` -- ${argv.join(' ')}` : ''
  return process.env.npm_lifecycle_event === 'bench:aggregates' ? `npm run bench:aggregates${args}` : `tsx bench/aggregates/run.ts ${argv.join(' ')}`.trim()
}

function writeReport(path: string, report: string): void {
  const marker = '<!-- analysis -->'
  const before = existsSync(path) ? readFileSync(path, 'utf8') : ''
  const at = before.indexOf(marker)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${report}\n\n${at >= 0 ? before.slice(at) : `${marker}\n`}`)
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const o = parseOptions(argv)
  const layout = createLayout(o)
  const loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  const idle = measureCpu({})
  await sleep(2_000)
  const busyBefore = idle().machineCores
  const started = performance.now()
  const measuredRevision = revision()
  const port = await freePort()
  const serverArgs = [...TSX, 'src/embedded/cli.ts', '--port', String(port)]
  const mongo = await startServerProcess({ command: process.execPath, args: serverArgs, cwd: ROOT, readyPattern: /(mongodb:\/\/\S+)/ })
  const uri = mongo.ready[1]
  log(`embedded server pid ${mongo.pid} at ${uri}`)
  const results: RunResult[] = []
  let gatewayCommand = '—'
  try {
    const writer = await startWorker({ file: join(ROOT, 'bench/aggregates/writer.ts'), args: [uri], execArgv: [...TSX] })
    const clock = await startWorker({ file: join(ROOT, 'bench/aggregates/commit-clock.ts'), args: [uri], execArgv: [...TSX] })
    try {
      await writer.request('seed', { count: o.seedDocuments, regions: o.regions }, 120_000)
      await clock.request('start')
      const shared: Shared = { o, layout, uri, writer, clock, mongoPid: mongo.pid }
      for (const name of o.runs) {
        const run = await runOne(shared, name)
        results.push(run.result)
        gatewayCommand = run.gatewayCommand
      }
      await clock.request('close', undefined, 10_000).catch(() => undefined)
      await writer.request('close', undefined, 10_000).catch(() => undefined)
    } finally {
      await clock.stop()
      await writer.stop()
    }
  } finally {
    const exit = await mongo.stop()
    if (exit.code !== 0) log(`embedded server exited with code ${exit.code}, signal ${exit.signal}`)
  }
  const report = renderReport(results, o, layout, {
    command: commandLine(argv),
    date: new Date().toISOString(),
    node: process.version,
    nproc: execFileSync('nproc', { encoding: 'utf8' }).trim(),
    loadAverage,
    busyBefore,
    revision: measuredRevision,
    gatewayCommand,
    serverCommand: `node ${serverArgs.join(' ')}`,
    wallSeconds: (performance.now() - started) / 1000,
  })
  process.stdout.write(`${report}\n`)
  const path = isFullRun(o, argv) ? join(ROOT, 'bench/results/aggregates.md') : join(ROOT, '.bench-out/aggregates.md')
  writeReport(path, report)
  log(`report written to ${path}`)
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`bench:aggregates failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  },
)
