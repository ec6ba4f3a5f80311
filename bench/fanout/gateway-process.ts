/**
 * The gateway as a benchmark sees it: its own process (`src/main.ts` compiled, or through tsx; from this checkout or
 * another one) against a given MongoDB, with tokens signed for it, its `streams` admin query, and memory readings from /proc
 * after a forced full GC.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { SignJWT } from 'jose'
import { freePort } from '../lib/ports.js'
import { startServerProcess, type Exit } from '../lib/processes.js'
import { compiled } from '../lib/compiled.js'
import { cpusBesides, pinProcess } from '../lib/cpu.js'
import { collectGarbage, takeHeapSnapshot } from './inspector.js'
import { DATABASE } from './protocol.js'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const TSX = ['--import', 'tsx'] as const

export interface StreamInfo {
  readonly key: string
  readonly collection: string
  readonly state: string
  readonly subscribers: number
  readonly eventsReceived: number
}

export interface MemoryReading {
  /** VmRSS as found. */
  readonly rawKb: number
  /** VmRSS and V8's used heap right after a forced full GC. */
  readonly gcKb: number
  readonly heapUsedKb: number
}

export interface GatewayProcess {
  readonly pid: number
  /** `http://HOST:PORT/graphql` */
  readonly url: string
  readonly metricsUrl: string
  /** The command line, the JWT secret masked. */
  readonly command: string
  sign(tenant: string, scope?: string): Promise<string>
  streams(): Promise<StreamInfo[]>
  memory(): Promise<MemoryReading>
  /** A V8 heap snapshot (JSON text) taken after a full GC. */
  heapSnapshot(): Promise<string>
  output(): string
  stop(graceMs?: number): Promise<Exit>
}

export interface GatewayOptions {
  readonly mongodbUri: string
  /** Connections the benchmark opens, all from one address: the per-address and per-tenant caps are lifted above it. */
  readonly connections: number
  readonly subscriptionBuffer?: number
  /** Runs under `node --cpu-prof`, writing the profile here on exit. */
  readonly profileDir?: string
  /** Extra `node` flags, after the benchmark's own. */
  readonly nodeFlags?: readonly string[]
  /** Appends the gateway's stdout and stderr here. */
  readonly outputFile?: string
  /** The checkout whose `src/main.ts` runs (its working directory too); default: this one. */
  readonly root?: string
  /** `compiled` (default): bundled JavaScript, as production runs it (../lib/compiled.ts); `source`: through tsx. */
  readonly from?: 'compiled' | 'source'
  /** Loads stall-probe.ts (this checkout's) into the gateway; its `stall-probe` lines go to the output. */
  readonly stallProbe?: boolean
  /**
   * Gives the gateway's main thread these CPUs to itself: it runs there only, and the gateway's other threads (V8's
   * collector helpers, libuv's pool) on the other CPUs, with the benchmark's other processes (reserveCpus in
   * ../lib/cpu.ts). The question it answers: how long the event loop blocks when nothing else needs its CPU.
   */
  readonly cpus?: readonly number[]
}

export function rssKb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!match) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1])
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** VmRSS of process `pid`, then a full GC through its inspector on `inspectPort` and VmRSS again. */
export async function readMemory(pid: number, inspectPort: number): Promise<MemoryReading> {
  const rawKb = rssKb(pid)
  const usage = await collectGarbage(inspectPort)
  await sleep(500)
  return { rawKb, gcKb: rssKb(pid), heapUsedKb: usage.heapUsed / 1024 }
}

export async function startGateway(options: GatewayOptions): Promise<GatewayProcess> {
  const secret = randomBytes(32).toString('hex')
  const env = [
    'PORT=0',
    'HOST=127.0.0.1',
    `MONGODB_URI=${options.mongodbUri}`,
    `MONGODB_DB=${DATABASE}`,
    `CHANGEGATE_JWT_SECRET=${secret}`,
    'CHANGEGATE_DEMO=0',
    'CHANGEGATE_LOG_LEVEL=warn',
    // Every connection comes from this one address and half of them from each tenant: lift the per-address and
    // per-tenant connection caps above the benchmark's count (the per-socket subscribe rate stays at its default).
    `CHANGEGATE_MAX_CONNECTIONS_PER_IP=${options.connections + 16}`,
    `CHANGEGATE_MAX_CONNECTIONS_PER_TENANT=${options.connections + 16}`,
    ...(options.subscriptionBuffer ? [`CHANGEGATE_SUBSCRIPTION_BUFFER=${options.subscriptionBuffer}`] : []),
  ]
  const inspectPort = await freePort()
  const nodeArgs = [
    ...(options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : []),
    // Only to force a full GC before memory readings and to take heap snapshots (nothing stays attached).
    `--inspect=127.0.0.1:${inspectPort}`,
    ...(options.stallProbe ? ['--import', pathToFileURL(await compiled(ROOT, 'bench/fanout/stall-probe.ts')).href] : []),
    ...(options.nodeFlags ?? []),
    ...(options.from === 'source' ? [...TSX, 'src/main.ts'] : [await compiled(options.root ?? ROOT, 'src/main.ts')]),
  ]
  const server = await startServerProcess({ command: 'env', args: [...env, process.execPath, ...nodeArgs], cwd: options.root ?? ROOT, readyPattern: /(http:\/\/\S+\/graphql)/, outputFile: options.outputFile })
  if (options.cpus) {
    pinProcess(server.pid, cpusBesides(options.cpus))
    pinProcess(server.pid, options.cpus, true)
  }
  const url = server.ready[1]
  const sign = (tenant: string, scope?: string) =>
    new SignJWT({ tenant, scope })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`bench-${tenant}`)
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(new TextEncoder().encode(secret))
  const admin = sign('acme', 'admin')
  return {
    pid: server.pid,
    url,
    metricsUrl: url.replace(/\/graphql$/, '/metrics'),
    command: `${env.map((e) => (e.startsWith('CHANGEGATE_JWT_SECRET=') ? 'CHANGEGATE_JWT_SECRET=<random>' : e)).join(' ')} node ${nodeArgs.join(' ')}`,
    sign,
    async streams() {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await admin}` },
        body: JSON.stringify({ query: '{ streams { key collection state subscribers eventsReceived } }' }),
      })
      const body = (await response.json()) as { data?: { streams: StreamInfo[] }; errors?: unknown }
      if (!body.data) throw new Error(`streams query failed: ${JSON.stringify(body.errors)}`)
      return body.data.streams
    },
    memory: () => readMemory(server.pid, inspectPort),
    heapSnapshot: () => takeHeapSnapshot(inspectPort),
    output: () => server.output(),
    stop: (graceMs = 15_000) => server.stop(graceMs),
  }
}

/** Polls `streams` until its subscriber counts add up to `count`; resolves with the last answer. */
export async function waitForSubscribers(gateway: GatewayProcess, count: number, timeoutMs = 120_000): Promise<StreamInfo[]> {
  const started = performance.now()
  let failures = 0
  for (;;) {
    // A busy machine sometimes resets a reused keep-alive connection ("fetch failed"): try again a few times.
    const streams = await gateway.streams().then(
      (s) => ((failures = 0), s),
      (error: unknown) => {
        if (++failures > 5) throw error
        return []
      },
    )
    if (streams.reduce((sum, s) => sum + s.subscribers, 0) >= count) return streams
    if (performance.now() - started > timeoutMs) throw new Error(`subscribers after ${timeoutMs} ms: ${JSON.stringify(streams)}`)
    await sleep(250)
  }
}
