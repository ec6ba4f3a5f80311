/**
 * One S1 run from nothing against one checkout of the gateway: a fresh embedded server, writer, gateway and load
 * generator; memory read (after a full GC) before any client, with every connection open, and with every
 * subscription live; then the warm-up and S1's measured phase. Used by `bench:fanout:compare` and the cost curve.
 */
import { execFileSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { freePort } from '../lib/ports.js'
import { startServerProcess, startWorker } from '../lib/processes.js'
import { formatNumber as n } from '../lib/stats.js'
import { ROOT, startGateway, waitForSubscribers, type MemoryReading } from './gateway-process.js'
import { compiled } from '../lib/compiled.js'
import type { Layout } from './layout.js'
import type { Options } from './options.js'
import { DRAIN_LIMIT_MS, measuredPhase, sender, warmUp } from './phases.js'
import type { ConnectResult } from './protocol.js'
import { cpuPer, deliveriesPerSecond, others, type PhaseRun } from './report.js'

export const TENANTS = ['acme', 'globex'] as const
const PHASE = { warmUp: 1, s1: 2 } as const
const HANDSHAKE_CONCURRENCY = 100
/** How long the gateway may take to count every subscription live. */
const SUBSCRIBE_LIMIT_MS = 600_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
export const log = (line: string) => process.stderr.write(`${line}\n`)

export interface Tree {
  readonly label: 'old' | 'new'
  readonly root: string
  readonly revision: string
}

export interface RunResult {
  readonly tree: Tree
  readonly index: number
  readonly load1: number
  readonly s1: PhaseRun
  readonly memory: { readonly idle: MemoryReading; readonly connected: MemoryReading; readonly subscribed: MemoryReading }
  readonly streams: number
  /** From sending the subscriptions until the gateway's `streams` counted every one. */
  readonly subscribeMs: number
}

export interface Figures {
  readonly deliveriesPerSecond: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly lost: number
  readonly duplicates: number
  readonly cpuPer1000: number
  readonly gatewayCores: number
  readonly otherCores: number
  readonly rssPerSubscriptionKb: number
  readonly rssPerConnectionKb: number
  readonly heapPerSubscriptionKb: number
  readonly loopDelayP99Ms: number
  readonly loopDelayMaxMs: number
  /** The receiving (clients') process's event-loop delay: its own share of the latency. */
  readonly receiverLoopDelayMaxMs: number
  readonly subscribeMs: number
}

export function revisionOf(root: string): string {
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim()
  return dirty ? `${head} with uncommitted changes in src/` : head
}

export async function runS1Once(tree: Tree, index: number, o: Options, layout: Layout): Promise<RunResult> {
  const load1 = loadavg()[0]
  const port = await freePort()
  const mongo = await startServerProcess({
    command: process.execPath,
    args: [await compiled(ROOT, 'src/embedded/cli.ts'), '--port', String(port)],
    cwd: ROOT,
    readyPattern: /(mongodb:\/\/\S+)/,
  })
  const uri = mongo.ready[1]
  try {
    const writer = await startWorker({ file: await compiled(ROOT, 'bench/fanout/writer.ts'), args: [uri] })
    try {
      const gateway = await startGateway({
        mongodbUri: uri,
        connections: o.connections,
        subscriptionBuffer: o.subscriptionBuffer,
        root: tree.root,
        nodeFlags: o.gatewayNodeFlags,
        outputFile: o.gatewayOutput,
        stallProbe: o.stallProbe,
        cpus: o.gatewayCpus,
      })
      const clients = await startWorker({ file: await compiled(ROOT, 'bench/fanout/clients.ts') })
      try {
        const tokens = await Promise.all(TENANTS.map((t) => gateway.sign(t)))
        await sleep(1_000)
        const idle = await gateway.memory()
        const url = gateway.url.replace(/^http/, 'ws')
        await clients.request<ConnectResult>('connect', { url, layout, tokens, concurrency: HANDSHAKE_CONCURRENCY }, 180_000)
        await sleep(2_000)
        const connected = await gateway.memory()
        const subscribeStart = performance.now()
        await clients.request('subscribe')
        const streams = await waitForSubscribers(gateway, layout.subscriptions, SUBSCRIBE_LIMIT_MS).catch((error: unknown) => {
          log(`gateway output:\n${gateway.output().slice(-4000)}\ncause: ${String((error as { cause?: unknown }).cause)}`)
          throw error
        })
        const subscribeMs = performance.now() - subscribeStart
        log(`run ${index} (${tree.label}): ${n(layout.subscriptions)} subscriptions live after ${n(subscribeMs)} ms`)
        await sleep(2_000)
        const subscribed = await gateway.memory()
        const send = sender(writer, 'paced')
        await warmUp(layout, PHASE.warmUp, o.rate, send, clients, layout.subscriptions, gateway.metricsUrl)
        log(`run ${index} (${tree.label}, ${tree.revision}): S1 ${o.rate}/s for ${o.seconds} s`)
        const s1 = await measuredPhase(layout, o, {
          phase: PHASE.s1,
          rate: o.rate,
          seconds: o.seconds,
          send,
          receiver: clients,
          pids: { gateway: gateway.pid, mongo: mongo.pid, writer: writer.pid, clients: clients.pid },
          drainMs: DRAIN_LIMIT_MS,
          metricsUrl: gateway.metricsUrl,
        })
        await clients.request('close', undefined, 30_000)
        return { tree, index, load1, s1, memory: { idle, connected, subscribed }, streams: streams.length, subscribeMs }
      } finally {
        await clients.stop()
        const exit = await gateway.stop()
        if (exit.code !== 0) log(`gateway exited with code ${exit.code}, signal ${exit.signal}\n${gateway.output().slice(-2000)}`)
      }
    } finally {
      await writer.request('close', undefined, 10_000).catch(() => undefined)
      await writer.stop()
    }
  } finally {
    await mongo.stop()
  }
}

export function figures(r: RunResult, layout: Layout): Figures {
  const { s1, memory } = r
  return {
    deliveriesPerSecond: deliveriesPerSecond(s1),
    p50: s1.tally.latencyMs.p50,
    p99: s1.tally.latencyMs.p99,
    max: s1.tally.latencyMs.max,
    lost: s1.tally.lost,
    duplicates: s1.tally.duplicates,
    cpuPer1000: cpuPer(s1, 'gateway', s1.tally.received),
    gatewayCores: s1.cpu.processCores.gateway ?? NaN,
    otherCores: others(s1.cpu),
    rssPerSubscriptionKb: (memory.subscribed.gcKb - memory.connected.gcKb) / layout.subscriptions,
    rssPerConnectionKb: (memory.connected.gcKb - memory.idle.gcKb) / layout.connections,
    heapPerSubscriptionKb: (memory.subscribed.heapUsedKb - memory.connected.heapUsedKb) / layout.subscriptions,
    loopDelayP99Ms: s1.gateway?.loopDelayP99Ms ?? NaN,
    loopDelayMaxMs: s1.gateway?.loopDelayMaxMs ?? NaN,
    receiverLoopDelayMaxMs: s1.tally.loopDelayMs.max,
    subscribeMs: r.subscribeMs,
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
