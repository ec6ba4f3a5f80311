/**
 * `npm run bench:fanout [-- --quick] [--profile] [--parts s1,s2,driver,bare] [...]` (options.ts lists every flag)
 *
 * Fan-out of MongoDB changes to many WebSocket subscribers, with the gateway, the embedded server, the writer and
 * the load generator as separate processes:
 * - S1: 10,000 `orderChanged` subscriptions over 2,000 connections, 1,000 inserts/s for 30 s, each insert matching
 *   10 subscriptions: change streams opened, deliveries/s, commit-to-client latency, lost events, gateway RSS per
 *   subscription, gateway CPU per delivery. Baseline in the same run: one driver change stream per subscription
 *   with its own `$match` (1,000 streams, same inserts).
 * - S2: the insert rate in steps until p99 passes 1 s or a delivery is lost; the highest sustained deliveries/s
 *   against a bare `ws` server broadcasting the same frames to the same connections.
 *
 * A full run (no flags) writes bench/results/fanout.md (text below its `<!-- analysis -->` line is kept); other runs
 * write .bench-out/fanout.md. Exits non-zero when an S1 delivery was lost or duplicated.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { measureCpu, reserveCpus } from '../lib/cpu.js'
import { summarizeCpuProfile } from '../lib/cpu-profile.js'
import { freePort } from '../lib/ports.js'
import { startServerProcess, startWorker, type Worker } from '../lib/processes.js'
import { ROOT, startGateway, waitForSubscribers } from './gateway-process.js'
import { compiled } from '../lib/compiled.js'
import { createLayout, type Layout } from './layout.js'
import { renderProfileLayers } from './profile-groups.js'
import { isFullRun, parseOptions, type Options } from './options.js'
import { DRAIN_LIMIT_MS, measuredPhase, sender, warmUp, type Send } from './phases.js'
import { type ConnectResult } from './protocol.js'
import { renderProfile, renderReport, sustained, type BareRun, type DriverRun, type GatewayRun, type Measurements, type PhaseRun } from './report.js'

const TENANTS = ['acme', 'globex'] as const
/** Phase numbers are part of every order id, so each phase's inserts are distinct documents. */
const PHASE = { gatewayWarmUp: 1, s1: 2, step: 10, driverWarmUp: 40, driver: 41, bareWarmUp: 50, bareStep: 60 } as const
const HANDSHAKE_CONCURRENCY = 100
/** The same for a ladder step: anything later has missed the step's p99 bound many times over. */
const STEP_DRAIN_LIMIT_MS = 10_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log = (line: string) => process.stderr.write(`${line}\n`)

const openFilesLimit = () => execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()

function checkOpenFiles(o: Options): string {
  const limit = openFilesLimit()
  // Each side of the largest fan of sockets, plus the driver pool and files.
  const need = Math.max(o.connections, o.baselineStreams) + 256
  if (limit !== 'unlimited' && Number(limit) < need) {
    throw new Error(`ulimit -n is ${limit}; this run holds up to ${need} sockets in one process: raise it (ulimit -n ${need}) or lower --connections`)
  }
  return limit
}

async function ladder(
  layout: Layout,
  o: Options,
  label: string,
  firstPhase: number,
  send: Send,
  receiver: Worker,
  pids: Record<string, number>,
  metricsUrl?: string,
): Promise<PhaseRun[]> {
  const runs: PhaseRun[] = []
  for (const [i, rate] of o.steps.entries()) {
    log(`${label}: S2 step ${rate}/s for ${o.stepSeconds} s`)
    const run = await measuredPhase(layout, o, { phase: firstPhase + i, rate, seconds: o.stepSeconds, send, receiver, pids, drainMs: STEP_DRAIN_LIMIT_MS, metricsUrl })
    runs.push(run)
    log(`  received ${run.tally.received}/${run.tally.expected}, p99 ${run.tally.latencyMs.p99} ms`)
    if (!sustained(run, o.maxP99Ms)) break
  }
  return runs
}

async function connectClients(clients: Worker, url: string, layout: Layout, tokens: string[]): Promise<ConnectResult> {
  return clients.request<ConnectResult>('connect', { url, layout, tokens, concurrency: HANDSHAKE_CONCURRENCY }, 180_000)
}

async function runGateway(o: Options, layout: Layout, uri: string, writer: Worker, mongoPid: number, profileDir: string | undefined): Promise<{ run: GatewayRun; command: string }> {
  const gateway = await startGateway({
    mongodbUri: uri,
    connections: o.connections,
    subscriptionBuffer: o.subscriptionBuffer,
    profileDir,
    nodeFlags: o.gatewayNodeFlags,
    outputFile: o.gatewayOutput,
    stallProbe: o.stallProbe,
    cpus: o.gatewayCpus,
  })
  log(`gateway pid ${gateway.pid} at ${gateway.url}`)
  const clients = await startWorker({ file: await compiled(ROOT, 'bench/fanout/clients.ts') })
  try {
    const tokens = await Promise.all(TENANTS.map((t) => gateway.sign(t)))
    await sleep(1_000)
    const before = await gateway.memory()
    log(`connecting ${o.connections} WebSockets`)
    const connect = await connectClients(clients, gateway.url.replace(/^http/, 'ws'), layout, tokens)
    await sleep(2_000)
    const connected = await gateway.memory()
    log(`subscribing ${layout.subscriptions}`)
    const subscribeStart = performance.now()
    await clients.request('subscribe')
    const streams = await waitForSubscribers(gateway, layout.subscriptions)
    const subscribeMs = performance.now() - subscribeStart
    await sleep(2_000)
    const subscribed = await gateway.memory()
    const send = sender(writer, 'paced')
    const pids = { gateway: gateway.pid, mongo: mongoPid, writer: writer.pid, clients: clients.pid }
    const { metricsUrl } = gateway
    log('gateway: warm-up')
    const warmUpRounds = await warmUp(layout, PHASE.gatewayWarmUp, o.rate, send, clients, layout.subscriptions, metricsUrl)
    let s1: PhaseRun | undefined
    if (o.parts.has('s1')) {
      log(`gateway: S1 ${o.rate}/s for ${o.seconds} s`)
      s1 = await measuredPhase(layout, o, { phase: PHASE.s1, rate: o.rate, seconds: o.seconds, send, receiver: clients, pids, drainMs: DRAIN_LIMIT_MS, metricsUrl })
      log(`  received ${s1.tally.received}/${s1.tally.expected}, p99 ${s1.tally.latencyMs.p99} ms`)
    }
    const steps = o.parts.has('s2') ? await ladder(layout, o, 'gateway', PHASE.step, send, clients, pids, metricsUrl) : []
    const streamsAfter = await gateway.streams().catch(() => undefined)
    await clients.request('close', undefined, 30_000)
    return {
      command: gateway.command,
      run: { connect, subscribeMs, memory: { before, connected, subscribed }, streamsSubscribed: streams, streamsAfter, warmUpRounds, s1, ladder: steps },
    }
  } finally {
    await clients.stop()
    const exit = await gateway.stop()
    if (exit.code !== 0) log(`gateway exited with code ${exit.code}, signal ${exit.signal}\n${gateway.output().slice(-2000)}`)
  }
}

async function runDriver(o: Options, layout: Layout, uri: string, writer: Worker, mongoPid: number): Promise<DriverRun> {
  const watcher = await startWorker({ file: await compiled(ROOT, 'bench/fanout/driver-watch.ts') })
  try {
    log(`driver baseline: opening ${o.baselineStreams} change streams`)
    const started = performance.now()
    const streams = await watcher.request<number>('watch', { uri, layout, streams: o.baselineStreams }, 120_000)
    const send = sender(writer, 'paced')
    const warmUpRounds = await warmUp(layout, PHASE.driverWarmUp, o.rate, send, watcher, streams)
    const openMs = performance.now() - started
    log(`driver baseline: ${o.rate}/s for ${o.seconds} s`)
    const run = await measuredPhase(layout, o, {
      phase: PHASE.driver,
      rate: o.rate,
      seconds: o.seconds,
      send,
      receiver: watcher,
      pids: { watcher: watcher.pid, mongo: mongoPid, writer: writer.pid },
      drainMs: DRAIN_LIMIT_MS,
    })
    log(`  received ${run.tally.received}/${run.tally.expected}, p99 ${run.tally.latencyMs.p99} ms`)
    const streamErrors = await watcher.request<number>('close', undefined, 60_000).catch(() => -1)
    return { streams, openMs, warmUpRounds, run, streamErrors }
  } finally {
    await watcher.stop()
  }
}

async function runBare(o: Options, layout: Layout): Promise<BareRun> {
  const server = await startWorker({ file: await compiled(ROOT, 'bench/fanout/bare-server.ts') })
  const clients = await startWorker({ file: await compiled(ROOT, 'bench/fanout/clients.ts') })
  try {
    const port = await server.request<number>('listen')
    log(`bare ws: connecting ${o.connections} WebSockets`)
    const connect = await connectClients(clients, `ws://127.0.0.1:${port}/graphql`, layout, TENANTS.map(() => 'unused'))
    await clients.request('subscribe')
    for (const started = performance.now(); (await server.request<number>('subscriptions')) < layout.subscriptions; await sleep(100)) {
      if (performance.now() - started > 60_000) throw new Error('bare ws: subscriptions did not all arrive')
    }
    const send = sender(server, 'broadcast')
    await warmUp(layout, PHASE.bareWarmUp, o.rate, send, clients, layout.subscriptions)
    const steps = await ladder(layout, o, 'bare ws', PHASE.bareStep, send, clients, { bare: server.pid, clients: clients.pid })
    await clients.request('close', undefined, 30_000)
    await server.request('close', undefined, 30_000)
    return { connect, ladder: steps }
  } finally {
    await clients.stop()
    await server.stop()
  }
}

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
  return process.env.npm_lifecycle_event === 'bench:fanout' ? `npm run bench:fanout${args}` : `tsx bench/fanout/run.ts ${argv.join(' ')}`.trim()
}

/** Writes `report` to `path`, keeping whatever followed the analysis marker in the file before. */
function writeReport(path: string, report: string): void {
  const marker = '<!-- analysis -->'
  const before = existsSync(path) ? readFileSync(path, 'utf8') : ''
  const at = before.indexOf(marker)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${report}\n${at >= 0 ? before.slice(at) : `${marker}\n`}`)
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2)
  const o = parseOptions(argv)
  if (o.gatewayCpus) reserveCpus(o.gatewayCpus)
  const layout = createLayout({ connections: o.connections, subscriptionsPerConnection: o.subscriptionsPerConnection, tenants: TENANTS, fanout: o.fanout })
  const openFiles = checkOpenFiles(o)
  const idle = measureCpu({})
  await sleep(2_000)
  const busyBefore = idle().machineCores
  const started = performance.now()
  const measuredRevision = revision()
  const profileDir = o.profile ? join(ROOT, '.bench-out', `fanout-profile-${Date.now()}`) : undefined
  const port = await freePort()
  const serverArgs = [await compiled(ROOT, 'src/embedded/cli.ts'), '--port', String(port)]
  const mongo = await startServerProcess({ command: process.execPath, args: serverArgs, cwd: ROOT, readyPattern: /(mongodb:\/\/\S+)/ })
  const uri = mongo.ready[1]
  log(`embedded server pid ${mongo.pid} at ${uri}`)
  const measurements: { -readonly [K in keyof Measurements]: Measurements[K] } = { subscriptions: layout.subscriptions, customers: layout.customers }
  let gatewayCommand = '—'
  try {
    const writer = await startWorker({ file: await compiled(ROOT, 'bench/fanout/writer.ts'), args: [uri] })
    try {
      if (o.parts.has('s1') || o.parts.has('s2')) {
        const gateway = await runGateway(o, layout, uri, writer, mongo.pid, profileDir)
        measurements.gateway = gateway.run
        gatewayCommand = gateway.command
      }
      if (o.parts.has('driver')) measurements.driver = await runDriver(o, layout, uri, writer, mongo.pid)
      await writer.request('close', undefined, 10_000).catch(() => undefined)
    } finally {
      await writer.stop()
    }
    if (o.parts.has('bare') && o.parts.has('s2')) measurements.bare = await runBare(o, layout)
  } finally {
    const exit = await mongo.stop()
    if (exit.code !== 0) log(`embedded server exited with code ${exit.code}, signal ${exit.signal}`)
  }
  const report = renderReport(measurements, o, {
    command: commandLine(argv),
    date: new Date().toISOString(),
    node: process.version,
    nproc: execFileSync('nproc', { encoding: 'utf8' }).trim(),
    openFiles,
    busyBefore,
    revision: measuredRevision,
    gatewayCommand,
    serverCommand: `node ${serverArgs.join(' ')}`,
    wallSeconds: (performance.now() - started) / 1000,
  })
  process.stdout.write(`${report.text}\n`)
  const path = isFullRun(o, argv) ? join(ROOT, 'bench/results/fanout.md') : join(ROOT, '.bench-out/fanout.md')
  writeReport(path, report.text)
  if (profileDir) {
    const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'))
    if (!file) throw new Error(`no CPU profile in ${profileDir}`)
    const text = `${renderProfileLayers(join(profileDir, file))}\n\n${renderProfile(summarizeCpuProfile(join(profileDir, file), { root: ROOT, top: 30 }), join(profileDir, file))}`
    process.stdout.write(`\n${text}\n`)
    writeFileSync(join(ROOT, '.bench-out/fanout-profile.md'), `${text}\n`)
  }
  log(`report written to ${path}`)
  return report.failed ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`bench:fanout failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  },
)
