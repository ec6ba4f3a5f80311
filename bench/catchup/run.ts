/**
 * `npm run bench:catchup [-- --resumers N --rate R --age S ...]` (options.ts lists every flag)
 *
 * Catch-up at scale (issue 11, aim 6): the embedded server, one gateway process, a writer at `rate` inserts/s and
 * a client process. Live subscribers are measured commit → client throughout. The resumers subscribe, receive the
 * warm-up, then leave keeping the cursor of their last event; `age` seconds of writes later they all subscribe
 * again at once with `after:` those cursors. Reported: how long each takes to be live again, what was replayed,
 * lost or duplicated (against the writer's sequence numbers), and the live subscribers' latency, the gateway's CPU
 * and event-loop delay before, during and after the catch-up.
 *
 * A run with no flags writes bench/results/catchup.md (text below its `<!-- analysis -->` line is kept); other
 * runs write .bench-out/catchup.md. Exits non-zero when a delivery was lost or duplicated.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { measureCpu } from '../lib/cpu.js'
import { summarizeCpuProfile } from '../lib/cpu-profile.js'
import type { PacedResult } from '../lib/paced-inserts.js'
import { freePort } from '../lib/ports.js'
import { startServerProcess, startWorker, type Worker } from '../lib/processes.js'
import { ROOT, startGateway, TSX, waitForSubscribers, type GatewayProcess } from '../fanout/gateway-process.js'
import { createLayout, type Layout } from '../fanout/layout.js'
import { sender, warmUp } from '../fanout/phases.js'
import type { PhaseTally } from '../fanout/protocol.js'
import { renderProfileLayers } from '../fanout/profile-groups.js'
import { renderProfile } from '../fanout/report.js'
import { isFullRun, parseOptions, type Options } from './options.js'
import type { CollectResult, ConnectResult, Progress } from './protocol.js'
import { startWindows } from './metrics.js'
import { renderReport, type Measurements } from './report.js'

const TENANTS = ['acme', 'globex'] as const
const PHASE = { warmUp: 1, measured: 2 } as const
const HANDSHAKE_CONCURRENCY = 100
/** Live latency "before the resume" leaves out the phase's first seconds. */
const SETTLE_MS = 5_000
/** Past the last write, collection gives up after this long whatever still arrives. */
const DRAIN_LIMIT_MS = 60_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log = (line: string) => process.stderr.write(`${line}\n`)

/** The commit the gateway ran from, and whether src/ differed from it. */
function revision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim()
    return dirty ? `${head} with uncommitted changes in src/` : head
  } catch {
    return 'unknown'
  }
}

function commandLine(argv: readonly string[]): string {
  const args = argv.length ? ` -- ${argv.join(' ')}` : ''
  return process.env.npm_lifecycle_event === 'bench:catchup' ? `npm run bench:catchup${args}` : `tsx bench/catchup/run.ts ${argv.join(' ')}`.trim()
}

function writeReport(path: string, report: string): void {
  const marker = '<!-- analysis -->'
  const before = existsSync(path) ? readFileSync(path, 'utf8') : ''
  const at = before.indexOf(marker)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${report}\n${at >= 0 ? before.slice(at) : `${marker}\n`}`)
}

async function waitUntilLive(clients: Worker, resumers: number, deadline: number): Promise<Progress> {
  for (;;) {
    const progress = await clients.request<Progress>('progress')
    if (progress.live + progress.ended >= resumers || Date.now() >= deadline) return progress
    await sleep(100)
  }
}

async function runCatchUp(o: Options, layout: Layout, gateway: GatewayProcess, writer: Worker, mongoPid: number): Promise<Measurements> {
  const clients = await startWorker({ file: join(ROOT, 'bench/catchup/clients.ts'), execArgv: [...TSX] })
  try {
    const tokens = await Promise.all(TENANTS.map((t) => gateway.sign(t)))
    log(`connecting ${layout.connections} live sockets and the resumers' sockets`)
    const connect = await clients.request<ConnectResult>(
      'connect',
      { url: gateway.url.replace(/^http/, 'ws'), layout, resumers: o.resumers, tokens, concurrency: HANDSHAKE_CONCURRENCY },
      180_000,
    )
    const members = layout.subscriptions + o.resumers
    log(`subscribing ${layout.subscriptions} live and ${o.resumers} resumers`)
    await clients.request('subscribe')
    await waitForSubscribers(gateway, members)
    const send = sender(writer, 'paced')
    log('warm-up')
    const warmUpRounds = await warmUp(layout, PHASE.warmUp, o.rate, send, clients, members)
    const warmUpTally = await clients.request<PhaseTally>(
      'settle',
      { phase: PHASE.warmUp, writes: warmUpRounds * layout.customers, idleMs: o.idleMs, timeoutMs: 60_000 },
      90_000,
    )
    const withCursor = await clients.request<number>('leave')
    const leftAt = Date.now()
    log(`resumers left (${withCursor} with a cursor); writing ${o.rate}/s for ${o.age} s before they resume`)
    await waitForSubscribers(gateway, layout.subscriptions).catch(() => undefined)
    await clients.request('measure', PHASE.measured)
    const pids = { gateway: gateway.pid, mongo: mongoPid, writer: writer.pid, clients: clients.pid }
    const windows = await startWindows(gateway.metricsUrl, pids)
    const phaseStartAt = Date.now()
    const seconds = o.age + o.tail
    const writing: Promise<PacedResult> = send({ layout, phase: PHASE.measured, firstSeq: 0, count: o.rate * seconds, rate: o.rate, deadlineMs: seconds * 1000 + 2_000 })
    await sleep(Math.max(0, leftAt + o.age * 1000 - Date.now()))
    // The window boundary is scraped while the resumers go: a slow scrape must not age their cursors.
    const [resumeAt, before] = await Promise.all([clients.request<number>('resume', PHASE.measured), windows.mark()])
    const cursorAgeS = (resumeAt - leftAt) / 1000
    log(`resumed ${o.resumers} subscribers with cursors ${cursorAgeS.toFixed(1)} s old`)
    const progress = await waitUntilLive(clients, o.resumers, phaseStartAt + seconds * 1000)
    const catchUpMs = Date.now() - resumeAt
    const during = await windows.mark()
    log(`  ${progress.live}/${o.resumers} live after ${catchUpMs} ms (${progress.ended} ended)`)
    const write = await writing
    const result = await clients.request<CollectResult>(
      'collect',
      { phase: PHASE.measured, writes: write.sent, idleMs: o.idleMs, timeoutMs: DRAIN_LIMIT_MS, phaseStartAt, settleMs: SETTLE_MS, windowMs: catchUpMs, resumeAt },
      DRAIN_LIMIT_MS + 60_000,
    )
    const after = await windows.mark()
    log(`  live ${result.live.received}/${result.live.expected} p99 during ${result.liveDuring.p99} ms; resumers ${result.resumers.received}/${result.resumers.expected}`)
    await clients.request('close', undefined, 30_000)
    return {
      liveSubscriptions: layout.subscriptions,
      customers: layout.customers,
      connect,
      warmUpRounds,
      warmUp: warmUpTally,
      withCursor,
      cursorAgeS,
      write,
      result,
      catchUpMs,
      before,
      during,
      after,
    }
  } finally {
    await clients.stop()
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2)
  const o = parseOptions(argv)
  const layout = createLayout({ connections: o.liveConnections, subscriptionsPerConnection: o.perConnection, tenants: TENANTS, fanout: o.fanout })
  const idle = measureCpu({})
  await sleep(2_000)
  const busyBefore = idle().machineCores
  const started = performance.now()
  const measuredRevision = revision()
  const profileDir = o.profile ? join(ROOT, '.bench-out', `catchup-profile-${Date.now()}`) : undefined
  const port = await freePort()
  const serverArgs = [...TSX, 'src/embedded/cli.ts', '--port', String(port)]
  const mongo = await startServerProcess({ command: process.execPath, args: serverArgs, cwd: ROOT, readyPattern: /(mongodb:\/\/\S+)/ })
  const uri = mongo.ready[1]
  log(`embedded server pid ${mongo.pid} at ${uri}`)
  let measurements: Measurements
  let gatewayCommand: string
  try {
    const writer = await startWorker({ file: join(ROOT, 'bench/fanout/writer.ts'), args: [uri], execArgv: [...TSX] })
    try {
      const sockets = layout.connections + Math.ceil(o.resumers / o.perConnection) + TENANTS.length
      const gateway = await startGateway({ mongodbUri: uri, connections: sockets, subscriptionBuffer: o.subscriptionBuffer, profileDir })
      gatewayCommand = gateway.command
      log(`gateway pid ${gateway.pid} at ${gateway.url}`)
      try {
        measurements = await runCatchUp(o, layout, gateway, writer, mongo.pid)
      } finally {
        const exit = await gateway.stop()
        if (exit.code !== 0) log(`gateway exited with code ${exit.code}, signal ${exit.signal}\n${gateway.output().slice(-2000)}`)
      }
      await writer.request('close', undefined, 10_000).catch(() => undefined)
    } finally {
      await writer.stop()
    }
  } finally {
    const exit = await mongo.stop()
    if (exit.code !== 0) log(`embedded server exited with code ${exit.code}, signal ${exit.signal}`)
  }
  const report = renderReport(measurements, o, {
    command: commandLine(argv),
    date: new Date().toISOString(),
    node: process.version,
    nproc: execFileSync('nproc', { encoding: 'utf8' }).trim(),
    busyBefore,
    revision: measuredRevision,
    gatewayCommand,
    serverCommand: `node ${serverArgs.join(' ')}`,
    wallSeconds: (performance.now() - started) / 1000,
  })
  process.stdout.write(`${report.text}\n`)
  const path = isFullRun(argv) ? join(ROOT, 'bench/results/catchup.md') : join(ROOT, '.bench-out/catchup.md')
  writeReport(path, report.text)
  if (profileDir) {
    const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'))
    if (!file) throw new Error(`no CPU profile in ${profileDir}`)
    const text = `${renderProfileLayers(join(profileDir, file))}\n\n${renderProfile(summarizeCpuProfile(join(profileDir, file), { root: ROOT, top: 30 }), join(profileDir, file))}`
    process.stdout.write(`\n${text}\n`)
    writeFileSync(join(ROOT, '.bench-out/catchup-profile.md'), `${text}\n`)
  }
  log(`report written to ${path}`)
  return report.failed ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`bench:catchup failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  },
)
