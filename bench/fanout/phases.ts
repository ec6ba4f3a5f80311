/**
 * The measured parts of a fan-out run, shared by `run.ts` and `compare.ts`: paced writes through a worker, a warm-up
 * that reaches every subscriber, and a measured phase (writes, then the receivers' tally, CPU and gateway metrics).
 */
import type { Worker } from '../lib/processes.js'
import { measureCpu } from '../lib/cpu.js'
import { watchGatewayMetrics } from './gateway-metrics.js'
import type { Layout } from './layout.js'
import type { Options } from './options.js'
import type { CollectResult, PacedRequest, PacedResult } from './protocol.js'
import type { PhaseRun } from './report.js'

/** Past the last write, a phase's collection gives up after this long whatever still arrives (S1, driver baseline). */
export const DRAIN_LIMIT_MS = 30_000
/** Latency over time is reported in windows this wide. */
const LATENCY_WINDOW_MS = 5_000
/** A phase sends nothing more this long past its scheduled end, however far behind the writer fell. */
const WRITE_OVERRUN_MS = 2_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export type Send = (request: PacedRequest) => Promise<PacedResult>

export const sender = (worker: Worker, type: string): Send => (request) =>
  worker.request<PacedResult>(type, request, (request.count / request.rate) * 1000 + 120_000)

/**
 * Writes whole rounds (one insert per customer) until every receiver member got one, at least twice: opens lazily
 * started streams and warms every process up. Returns the rounds written.
 *
 * With `settleMetricsUrl` (the gateway's `/metrics`), rounds go on until the gateway has run a full (mark-compact)
 * collection of its own since the warm-up began, for at most {@link SETTLE_LIMIT_MS}. The memory readings before
 * the warm-up force a full collection, after which V8 sets a tight heap limit and marks the whole heap again a few
 * seconds later: without this, that after-effect of the measurement — which no server in use sees — fell into the
 * measured phase's first seconds in nearly every run at 25,000 subscriptions. The measured phase still counts every
 * full collection of its own (`majorGcs`).
 */
export async function warmUp(
  layout: Layout,
  phase: number,
  rate: number,
  send: Send,
  receiver: Worker,
  members: number,
  settleMetricsUrl?: string,
): Promise<number> {
  const started = performance.now()
  const settled = settleMetricsUrl ? await watchGatewayMetrics(settleMetricsUrl) : undefined
  // Large layouts take a while per round at low rates: allow three rounds beyond the fixed limit.
  const limitMs = 90_000 + 3 * (layout.customers / rate) * 1000
  let reachedAllAt: number | undefined
  for (let round = 0; ; round++) {
    const write = await send({ layout, phase, firstSeq: round * layout.customers, count: layout.customers, rate })
    if (write.failed) throw new Error(`warm-up: ${write.failed} writes failed`)
    for (const waitUntil = performance.now() + 3_000; performance.now() < waitUntil; ) {
      if ((await receiver.request<number>('reached', phase)) === members) break
      await sleep(100)
    }
    const reached = await receiver.request<number>('reached', phase)
    if (reached === members && round >= 1) {
      reachedAllAt ??= performance.now()
      if (!settled || (await settled()).majorGcs > 0 || performance.now() - reachedAllAt > SETTLE_LIMIT_MS) return round + 1
    }
    if (reached !== members && performance.now() - started > limitMs) {
      throw new Error(`warm-up: only ${reached} of ${members} subscribers received anything`)
    }
  }
}

/** How long the warm-up goes on, after every member received something, waiting for the gateway's own full collection. */
export const SETTLE_LIMIT_MS = 30_000

export interface PhaseArgs {
  readonly phase: number
  readonly rate: number
  readonly seconds: number
  readonly send: Send
  readonly receiver: Worker
  readonly pids: Record<string, number>
  readonly drainMs: number
  /** The gateway's `/metrics`, when a gateway serves the phase. */
  readonly metricsUrl?: string
}

export async function measuredPhase(layout: Layout, o: Options, args: PhaseArgs): Promise<PhaseRun> {
  const metrics = args.metricsUrl ? await watchGatewayMetrics(args.metricsUrl) : undefined
  // The gateway's stall probe counts phases by SIGUSR2: one at the start of a measured phase, one at its end.
  const markPhase = o.stallProbe && args.metricsUrl ? () => process.kill(args.pids.gateway, 'SIGUSR2') : () => undefined
  markPhase()
  const done = measureCpu({ ...args.pids, bench: process.pid })
  const write = await args.send({
    layout,
    phase: args.phase,
    firstSeq: 0,
    count: Math.round(args.rate * args.seconds),
    rate: args.rate,
    deadlineMs: args.seconds * 1000 + WRITE_OVERRUN_MS,
  })
  const tally = await args.receiver.request<CollectResult>(
    'collect',
    { phase: args.phase, writes: write.sent, idleMs: o.idleMs, timeoutMs: args.drainMs, windowMs: LATENCY_WINDOW_MS },
    args.drainMs + 30_000,
  )
  const cpu = done()
  markPhase()
  return { rate: args.rate, write, tally, cpu, gateway: await metrics?.() }
}
