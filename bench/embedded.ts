/**
 * `npm run bench:embedded [-- --phases bulk,single,latency] [--streams 10,200] [--profile server,load,watcher]
 *   [--server-cli PATH]`
 *
 * Starts the embedded server as its own process (the CLI, on a free port) and drives it with the official driver
 * from separate load-generator and watcher processes: insertMany throughput, sequential insertOne round trips,
 * and commit-to-driver latency of change events on 10 and 200 concurrent streams. Baselines come from the same
 * run: driver pings against the same server, and in-process BSON serialize + deserialize of the same documents.
 *
 * A full run writes bench/results/embedded.md (text below its `<!-- analysis -->` line is kept). `--profile`
 * runs the listed processes (default: the server) under `node --cpu-prof` and prints their hottest functions;
 * `--server-cli` runs another copy of src/embedded/cli.ts (e.g. a checkout with a change to compare).
 * Profiled, partial and `--server-cli` runs write to .bench-out/ instead.
 * Exits non-zero when a change event was lost or a write failed; every child process is ended on the way out.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { summarizeCpuProfile } from './lib/cpu-profile.js'
import { freePort } from './lib/ports.js'
import { measureCpu, type CpuUse } from './lib/cpu.js'
import type { LoopDelay } from './lib/loop-delay.js'
import { startServerProcess, startWorker, type ServerProcess, type Worker } from './lib/processes.js'
import type { CollectResult, InsertOneResult, PacedWriteResult, RunResult } from './embedded/protocol.js'
import { renderProfile, renderReport, type LatencyRun, type Measurements } from './embedded/report.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const TSX = ['--import', 'tsx']
const PHASES = ['bulk', 'single', 'latency'] as const
type Phase = (typeof PHASES)[number]
const ROLES = ['server', 'load', 'watcher'] as const
type Role = (typeof ROLES)[number]
const DEFAULT_STREAMS = [10, 200]
const DEFAULT_SERVER_CLI = 'src/embedded/cli.ts'

const INSERT_MANY_DOCS = 100_000
const BATCH_SIZE = 1_000
const SINGLE_SECONDS = 5
const WRITE_RATE = 1_000
const WRITE_SECONDS = 10
const WARM_UP_SECONDS = 2

function list<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): Set<T> {
  const items = (value ?? '').split(',').filter(Boolean)
  if (!items.length || items.some((item) => !(allowed as readonly string[]).includes(item))) {
    throw new Error(`${flag} takes a comma-separated list of ${allowed.join(', ')}`)
  }
  return new Set(items as T[])
}

interface Options {
  phases: Set<Phase>
  /** Concurrent change streams of each latency run. */
  streams: number[]
  profile: Set<Role>
  /** The CLI to start, relative to the repository root. */
  serverCli: string
}

function parseArgs(argv: readonly string[]): Options {
  let phases = new Set<Phase>(PHASES)
  let streams = DEFAULT_STREAMS
  let profile = new Set<Role>()
  let serverCli = DEFAULT_SERVER_CLI
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2)
    const next = () => inline ?? (argv[i + 1]?.startsWith('--') ? undefined : argv[++i])
    switch (flag) {
      case '--profile':
        profile = list('--profile', next() ?? 'server', ROLES)
        break
      case '--phases':
        phases = list('--phases', next(), PHASES)
        break
      case '--streams':
        streams = (next() ?? '').split(',').map(Number)
        if (!streams.every((count) => Number.isInteger(count) && count > 0)) throw new Error('--streams takes a list of positive integers')
        break
      case '--server-cli': {
        const path = next()
        if (!path || !existsSync(resolve(ROOT, path))) throw new Error(`--server-cli needs an existing file, got '${path ?? ''}'`)
        serverCli = relative(ROOT, resolve(ROOT, path))
        break
      }
      default:
        throw new Error(`unknown argument '${argv[i]}' (usage: bench/embedded.ts [--phases LIST] [--streams LIST] [--profile LIST] [--server-cli PATH])`)
    }
  }
  return { phases, streams, profile, serverCli }
}

/** Runs `run`, measuring the CPU the server, the benchmark's own processes and the whole machine used meanwhile. */
async function withCpu<T>(pids: Record<string, number>, run: () => Promise<T>): Promise<{ value: T; cpu: CpuUse }> {
  const done = measureCpu({ ...pids, bench: process.pid })
  const value = await run()
  return { value, cpu: done() }
}

/** Node options for a process: TypeScript, and the CPU profiler when that process is profiled. */
type NodeArgs = (role: Role) => string[]

/** Relative to the server's working directory, the repository root. */
const LOOP_PROBE = './bench/embedded/loop-probe.ts'
let loopProbeReads = 0

/**
 * The server's event-loop delay since the previous call (`loop-probe.ts` answers SIGUSR2 with a numbered line on its
 * stderr); undefined when no answer came within a second.
 */
async function serverLoopDelay(server: ServerProcess): Promise<LoopDelay | undefined> {
  const n = ++loopProbeReads
  process.kill(server.pid, 'SIGUSR2')
  const pattern = new RegExp(`^loop-delay ${n} (\\{.*\\})$`, 'm')
  for (let waited = 0; waited < 1000; waited += 20) {
    const line = pattern.exec(server.output())
    if (line) return JSON.parse(line[1]) as LoopDelay
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return undefined
}

async function latencyRun(server: ServerProcess, load: Worker, uri: string, streams: number, node: NodeArgs): Promise<LatencyRun> {
  const collection = `changes_${streams}`
  const watcher = await startWorker({ file: join(ROOT, 'bench/embedded/watcher.ts'), args: [uri], execArgv: node('watcher') })
  try {
    const warmUp = WRITE_RATE * WARM_UP_SECONDS
    const openMs = await watcher.request<number>('watch', { collection, streams, warmUp, capacity: WRITE_RATE * WRITE_SECONDS }, 60_000)
    const paced = (firstOrderId: number, seconds: number) =>
      load.request<PacedWriteResult>(
        'pacedWrite',
        { collection, firstOrderId, rate: WRITE_RATE, seconds, maxInFlight: 100 },
        seconds * 1000 + 60_000,
      )
    const warmUpWrite = await paced(-warmUp, WARM_UP_SECONDS)
    const { value, cpu } = await withCpu({ server: server.pid, load: load.pid, watcher: watcher.pid }, async () => {
      await watcher.request('mark')
      await serverLoopDelay(server)
      const write = await paced(0, WRITE_SECONDS)
      const received = await watcher.request<CollectResult>('collect', { expected: write.ops, idleMs: 5_000, timeoutMs: 90_000 }, 120_000)
      return { write, received, serverLoopDelayMs: await serverLoopDelay(server) }
    })
    await watcher.request('close', undefined, 10_000).catch(() => undefined)
    return { streams, openMs, cpu, warmUpWrite, ...value }
  } finally {
    await watcher.stop()
  }
}

async function measure(server: ServerProcess, uri: string, options: Options, node: NodeArgs): Promise<Measurements> {
  const { phases } = options
  const out: Measurements = {}
  const load = await startWorker({ file: join(ROOT, 'bench/embedded/load.ts'), args: [uri], execArgv: node('load') })
  try {
    if (phases.has('bulk')) {
      process.stderr.write('bulk: bson baseline, insertMany\n')
      await load.request('bson', { total: 10_000 })
      out.bson = await load.request<RunResult>('bson', { total: INSERT_MANY_DOCS })
      await load.request('insertMany', { collection: 'warm_up', total: 5 * BATCH_SIZE, batchSize: BATCH_SIZE })
      const bulk = await withCpu({ server: server.pid, load: load.pid }, () =>
        load.request<RunResult>('insertMany', { collection: 'orders_bulk', total: INSERT_MANY_DOCS, batchSize: BATCH_SIZE }),
      )
      out.insertMany = { ...bulk.value, cpu: bulk.cpu }
    }
    if (phases.has('single')) {
      process.stderr.write('single: ping vs insertOne\n')
      const single = await withCpu({ server: server.pid, load: load.pid }, () =>
        load.request<InsertOneResult>('insertOneVsPing', { collection: 'orders_single', seconds: SINGLE_SECONDS, rounds: 4 }),
      )
      out.single = { ...single.value, cpu: single.cpu }
    }
    for (const streams of phases.has('latency') ? options.streams : []) {
      process.stderr.write(`latency: ${streams} streams, ${WRITE_RATE} inserts/s for ${WRITE_SECONDS} s\n`)
      ;(out.latency ??= []).push(await latencyRun(server, load, uri, streams, node))
    }
    await load.request('close', undefined, 10_000).catch(() => undefined)
  } finally {
    await load.stop()
  }
  return out
}

function commandLine(argv: readonly string[]): string {
  const args = argv.length ? ` -- ${argv.join(' ')}` : ''
  return process.env.npm_lifecycle_event === 'bench:embedded' ? `npm run bench:embedded${args}` : `tsx bench/embedded.ts ${argv.join(' ')}`.trim()
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
  const options = parseArgs(argv)
  const { phases, profile, serverCli } = options
  const profileDir = join(ROOT, '.bench-out', `profile-${Date.now()}`)
  const node: NodeArgs = (role) => [...(profile.has(role) ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, role)}`] : []), ...TSX]
  const port = await freePort()
  const serverArgs = [...node('server'), '--import', LOOP_PROBE, serverCli, '--port', String(port)]
  const started = performance.now()
  const server = await startServerProcess({ command: process.execPath, args: serverArgs, cwd: ROOT, readyPattern: /(mongodb:\/\/\S+)/ })
  const uri = server.ready[1]
  process.stderr.write(`server pid ${server.pid} at ${uri}\n`)
  let measurements: Measurements
  try {
    measurements = await measure(server, uri, options, node)
  } finally {
    const exit = await server.stop()
    if (exit.code !== 0) process.stderr.write(`server exited with code ${exit.code}, signal ${exit.signal}\n`)
  }
  const report = renderReport(measurements, {
    command: commandLine(argv),
    date: new Date().toISOString(),
    node: process.version,
    nproc: execFileSync('nproc', { encoding: 'utf8' }).trim(),
    serverCommand: `node ${serverArgs.join(' ')}`,
    wallSeconds: (performance.now() - started) / 1000,
  })
  process.stdout.write(`${report.text}\n`)
  const full =
    phases.size === PHASES.length &&
    options.streams.join() === DEFAULT_STREAMS.join() &&
    profile.size === 0 &&
    serverCli === DEFAULT_SERVER_CLI
  const path = full ? join(ROOT, 'bench/results/embedded.md') : join(ROOT, '.bench-out/embedded.md')
  writeReport(path, report.text)
  if (profile.size) {
    const texts: string[] = []
    for (const role of profile) {
      const dir = join(profileDir, role)
      const files = existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.cpuprofile')) : []
      if (!files.length) process.stderr.write(`no CPU profile of the ${role} in ${dir}\n`)
      // --cpu-prof writes one file per thread; thread 0 is the main thread (others are e.g. tsx's loader thread).
      for (const file of files.filter((name) => /\.\d+\.0\.\d+\.cpuprofile$/.test(name))) {
        texts.push(renderProfile(summarizeCpuProfile(join(dir, file), { root: ROOT, top: 25 }), `${role}: ${relative(ROOT, join(dir, file))}`))
      }
    }
    process.stdout.write(`\n${texts.join('\n\n')}\n`)
    writeFileSync(join(ROOT, '.bench-out/embedded-profile.md'), `${texts.join('\n\n')}\n`)
  }
  process.stderr.write(`report written to ${path}\n`)
  return report.failed ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:embedded failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  },
)
