/** The embedded-server benchmark's report: the results table, the aims, and the details behind them. */
import type { CpuUse } from '../lib/cpu.js'
import type { ProfileSummary } from '../lib/cpu-profile.js'
import type { LoopDelay } from '../lib/loop-delay.js'
import { markdownTable } from '../lib/markdown.js'
import { formatNumber as n, formatRatio, type LatencySummary } from '../lib/stats.js'
import type { CollectResult, InsertOneResult, PacedWriteResult, RunResult } from './protocol.js'

export interface LatencyRun {
  readonly streams: number
  /** Time until every stream had delivered a probe event. */
  readonly openMs: number
  /** CPU used while writing and receiving. */
  readonly cpu: CpuUse
  /** The inserts before measuring (delivery checked, latency reported apart). */
  readonly warmUpWrite: PacedWriteResult
  readonly write: PacedWriteResult
  readonly received: CollectResult
  /** The server's event-loop delay while measuring (from `loop-probe.ts`), when it could be read. */
  readonly serverLoopDelayMs: LoopDelay | undefined
}

export interface Measurements {
  bson?: RunResult
  insertMany?: RunResult & { cpu: CpuUse }
  single?: InsertOneResult & { cpu: CpuUse }
  latency?: LatencyRun[]
}

export interface ReportMeta {
  readonly command: string
  readonly date: string
  readonly node: string
  readonly nproc: string
  readonly serverCommand: string
  readonly wallSeconds: number
}

const AIMS = { insertMany: 20_000, insertOne: 5_000, p99With10: 10 } as const

const delay = (d: LoopDelay | undefined) => (d ? `${n(d.p50)} / ${n(d.p99)} / ${n(d.max)} ms` : 'not read')
const rtt = (s: LatencySummary | undefined) => (s ? `p50 ${n(s.p50)} ms, p99 ${n(s.p99)} ms, max ${n(s.max)} ms` : '—')
/** "server 0.98, load 0.61, bench 0.01; machine 1.9 (other processes 0.3)", in cores. */
function cpuText(cpu: CpuUse): string {
  const ours = Object.values(cpu.processCores).reduce((sum, c) => sum + c, 0)
  const each = Object.entries(cpu.processCores).map(([label, cores]) => `${label} ${n(cores, 2)}`)
  const waiting = Object.entries(cpu.processWaiting)
    .filter(([label]) => label !== 'bench')
    .map(([label, share]) => `${label} ${n(share * 100, 2)}%`)
  return (
    `CPU cores busy: ${each.join(', ')}; whole machine ${n(cpu.machineCores, 2)} (other processes ${n(Math.max(0, cpu.machineCores - ours), 2)}); ` +
    `main thread waiting for a CPU: ${waiting.join(', ')} of the time`
  )
}

/** Microseconds of `label`'s CPU per operation: less sensitive to other load on the machine than rates are. */
function cpuPerOp(cpu: CpuUse, label: string, ops: number): string {
  const cores = cpu.processCores[label]
  if (!(ops > 0)) return '—'
  return `${n(((cores * cpu.wallSeconds) / ops) * 1e6)} µs`
}

const met = (ok: boolean) => (ok ? 'met' : '**missed**')

export function renderReport(m: Measurements, meta: ReportMeta): { text: string; failed: boolean } {
  const rows: string[][] = []
  const aims: string[] = []
  const details: string[] = []
  let failed = false

  if (m.insertMany && m.bson) {
    rows.push([
      `insertMany, ${n(m.insertMany.ops)} docs in batches of 1,000 (docs/s)`,
      n(m.insertMany.perSecond),
      `${n(m.bson.perSecond)} (bson serialize + deserialize, in process)`,
      formatRatio(m.insertMany.perSecond, m.bson.perSecond),
    ])
    aims.push(`insertMany ≥ ${n(AIMS.insertMany)} docs/s: ${met(m.insertMany.perSecond >= AIMS.insertMany)} (${n(m.insertMany.perSecond)})`)
    details.push(
      `insertMany: ${n(m.insertMany.seconds)} s; batch round trip ${rtt(m.insertMany.roundTripMs)}; ` +
        `server CPU per document ${cpuPerOp(m.insertMany.cpu, 'server', m.insertMany.ops)}; ${cpuText(m.insertMany.cpu)}`,
    )
  }
  if (m.single) {
    const { ping, insertOne } = m.single
    rows.push([
      'insertOne, one client, sequential (ops/s)',
      n(insertOne.perSecond),
      `${n(ping.perSecond)} (ping round trips/s, same client)`,
      formatRatio(insertOne.perSecond, ping.perSecond),
    ])
    aims.push(`insertOne ≥ ${n(AIMS.insertOne)}/s from one client: ${met(insertOne.perSecond >= AIMS.insertOne)} (${n(insertOne.perSecond)})`)
    details.push(
      `insertOne round trip ${rtt(insertOne.roundTripMs)} (${n(insertOne.ops)} ops in ${n(insertOne.seconds)} s)`,
      `ping round trip ${rtt(ping.roundTripMs)} (${n(ping.ops)} ops in ${n(ping.seconds)} s); ping and insertOne alternated in 4 slices each; ${cpuText(m.single.cpu)}`,
    )
  }
  for (const run of m.latency ?? []) {
    const { received: r, write: w, warmUpWrite: warm } = run
    const pingRtt = m.single?.ping.roundTripMs
    const label = `${run.streams} streams`
    for (const key of ['p50', 'p99', 'max'] as const) {
      rows.push([
        `change latency ${key}, ${label} (ms)`,
        n(r.latencyMs[key]),
        pingRtt ? `${n(pingRtt[key])} (ping round trip ${key})` : '—',
        pingRtt ? formatRatio(r.latencyMs[key], pingRtt[key]) : '—',
      ])
    }
    const expected = r.expectedPerStream * r.streams
    rows.push([
      `events delivered, ${label}`,
      `${n(r.received)} of ${n(expected)} (lost ${n(r.lost)}, duplicates ${n(r.duplicates)})`,
      '—',
      formatRatio(r.received, expected),
    ])
    if (r.lost > 0 || w.failed > 0 || run.warmUpWrite.failed > 0) failed = true
    if (run.streams === 10) aims.push(`p99 ≤ ${AIMS.p99With10} ms with 10 streams: ${met(r.latencyMs.p99 <= AIMS.p99With10)} (${n(r.latencyMs.p99)} ms)`)
    if (run.streams === 200) aims.push(`all events delivered with 200 streams: ${met(r.lost === 0)} (lost ${n(r.lost)})`)
    details.push(
      `${label}: writer sent ${n(w.ops)} inserts in ${n(w.seconds)} s (${n(w.perSecond)}/s; acknowledged ${n(w.acknowledged)}, ` +
        `failed ${n(w.failed)}, worst lag behind schedule ${n(w.maxLagMs)} ms), insert round trip ${rtt(w.roundTripMs)}`,
      `${label}: warm-up before measuring: ${n(warm.ops)} inserts in ${n(warm.seconds)} s (failed ${n(warm.failed)}), ` +
        `their change latency ${rtt(r.warmUpLatencyMs)}, delivery counted below`,
      `${label}: receive − the event's server \`wallTime\` (commit clock, truncated to whole ms, so up to 1 ms high): ` +
        `${rtt(r.commitLatencyMs)}`,
      `${label}: per stream ${n(r.minPerStream)}–${n(r.maxPerStream)} of ${n(r.expectedPerStream)} events; stream errors ${r.streamErrors}; ` +
        `largest getMore batch ${n(r.largestBatch)} events; ` +
        `events arrived over ${n(r.seconds)} s; ${n(r.latencyMs.count)} latency samples, mean ${n(r.latencyMs.mean)} ms; ` +
        `streams open after ${n(run.openMs)} ms`,
      `${label}: CPU per event delivered while measuring (${n(r.eventsSinceMark)} events; the server's includes handling the inserts): ` +
        `server ${cpuPerOp(run.cpu, 'server', r.eventsSinceMark)}, watcher ${cpuPerOp(run.cpu, 'watcher', r.eventsSinceMark)}; ${cpuText(run.cpu)}`,
      `${label}: event-loop delay while measuring, p50 / p99 / max (how late each process could run what had arrived): ` +
        `server ${delay(run.serverLoopDelayMs)}, writer ${delay(w.loopDelayMs)}, watcher ${delay(r.loopDelayMs)}`,
    )
  }

  const text = [
    '# Embedded server benchmark',
    '',
    `- Command: \`${meta.command}\``,
    `- Date: ${meta.date}; Node ${meta.node}; nproc ${meta.nproc}; whole run ${n(meta.wallSeconds)} s`,
    `- Server: \`${meta.serverCommand}\`, one process. Load generator: one process, one driver client. ` +
      'Watcher: one process, one driver client (pool = streams + 8), `collection.watch()` per stream.',
    '- Phases run in the order below against one server process (the latency runs see the documents inserted before). ' +
      'The machine is shared: each phase lists the CPU other processes used and how long ours waited for a CPU.',
    '- Latency = watcher receive time − `stampMs` the writer put in the document just before `insertOne` ' +
      '(wall clock, sub-millisecond, same machine). The writer inserts on an open-loop schedule (up to 100 in flight); ' +
      'each latency run starts with a 2 s warm-up at the same rate whose latencies are reported apart, not in the table. ' +
      'Delivery counts every event, warm-up included, on every stream.',
    '',
    markdownTable(['metric', 'value', 'baseline', 'ratio'], rows),
    '',
    '## Aims',
    '',
    ...aims.map((a) => `- ${a}`),
    '',
    '## Details',
    '',
    ...details.map((d) => `- ${d}`),
    '',
  ].join('\n')
  return { text, failed }
}

export function renderProfile(p: ProfileSummary, title: string): string {
  const row = (f: { frame: string; selfMs: number; totalMs: number }) => [f.frame, n(f.selfMs), n(f.totalMs)]
  return [
    `## CPU profile, ${title}`,
    '',
    `Sampled ${n(p.sampledMs)} ms: idle ${n(p.idleMs)} ms, garbage collector ${n(p.gcMs)} ms.`,
    '',
    '### By self time',
    '',
    markdownTable(['function', 'self ms', 'total ms'], p.bySelf.map(row)),
    '',
    '### By total time',
    '',
    markdownTable(['function', 'self ms', 'total ms'], p.byTotal.map(row)),
  ].join('\n')
}
