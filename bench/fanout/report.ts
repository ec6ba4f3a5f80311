/** The fan-out benchmark's report: S1 against the per-subscription-stream baseline, the S2 ladder against bare `ws`. */
import type { CpuUse } from '../lib/cpu.js'
import type { ProfileSummary } from '../lib/cpu-profile.js'
import { markdownTable } from '../lib/markdown.js'
import { formatNumber as n, formatRatio } from '../lib/stats.js'
import type { GatewayMetrics } from './gateway-metrics.js'
import type { MemoryReading, StreamInfo } from './gateway-process.js'
import type { Options } from './options.js'
import type { CollectResult, ConnectResult, PacedResult } from './protocol.js'

/** One paced run of writes (or broadcasts) and what the receivers counted. */
export interface PhaseRun {
  readonly rate: number
  readonly write: PacedResult
  readonly tally: CollectResult
  readonly cpu: CpuUse
  /** From the gateway's `/metrics` over the phase, when a gateway served it. */
  readonly gateway?: GatewayMetrics
}

export interface GatewayRun {
  readonly connect: ConnectResult
  /** From sending the subscriptions until `streams` counted every one. */
  readonly subscribeMs: number
  /** Before any client, with every connection acknowledged, with every subscription live. */
  readonly memory: { readonly before: MemoryReading; readonly connected: MemoryReading; readonly subscribed: MemoryReading }
  readonly streamsSubscribed: StreamInfo[]
  readonly streamsAfter?: StreamInfo[]
  readonly warmUpRounds: number
  readonly s1?: PhaseRun
  readonly ladder: PhaseRun[]
}

export interface DriverRun {
  readonly streams: number
  /** From the first `watch()` until every stream had delivered a warm-up event. */
  readonly openMs: number
  readonly warmUpRounds: number
  readonly run: PhaseRun
  readonly streamErrors: number
}

export interface BareRun {
  readonly connect: ConnectResult
  readonly ladder: PhaseRun[]
}

export interface Measurements {
  readonly subscriptions: number
  readonly customers: number
  readonly gateway?: GatewayRun
  readonly driver?: DriverRun
  readonly bare?: BareRun
}

export interface ReportMeta {
  readonly command: string
  readonly date: string
  readonly node: string
  readonly nproc: string
  readonly openFiles: string
  /** Cores the machine was busy with (other work) in the 2 s before the run started. */
  readonly busyBefore: number
  readonly revision: string
  readonly gatewayCommand: string
  readonly serverCommand: string
  readonly wallSeconds: number
}

const AIMS = { p99Ms: 100, rssPerSubscriptionKb: 20, ladderRatio: 0.5 } as const

const seconds = (r: PhaseRun) => (Math.max(r.tally.lastAt, r.write.endedAt) - r.write.startedAt) / 1000
export const deliveriesPerSecond = (r: PhaseRun) => r.tally.received / seconds(r)
export const writesPerSecond = (r: PhaseRun) => r.write.sent / ((r.write.endedAt - r.write.startedAt) / 1000)
const endedCount = (r: PhaseRun) => Object.values(r.tally.ended).reduce((a, b) => a + b, 0)

/** A step is sustained when every delivery arrived, none twice, no subscription ended, and p99 stayed under the bound. */
export const sustained = (r: PhaseRun, maxP99Ms: number) =>
  r.write.failed === 0 && r.tally.lost === 0 && r.tally.duplicates === 0 && r.tally.misrouted === 0 && endedCount(r) === 0 && r.tally.latencyMs.p99 <= maxP99Ms

/** CPU seconds `label` used per 1,000 of `per`. */
export const cpuPer = (r: PhaseRun, label: string, per: number) => ((r.cpu.processCores[label] ?? NaN) * r.cpu.wallSeconds) / (per / 1000)

const latency = (r: PhaseRun) => `${n(r.tally.latencyMs.p50)} / ${n(r.tally.latencyMs.p99)} / ${n(r.tally.latencyMs.max)}`
const losses = (r: PhaseRun) => {
  const ended = Object.entries(r.tally.ended).map(([code, count]) => `${n(count)} ended ${code}`)
  const parts = [`${n(r.tally.lost)} lost`, `${n(r.tally.duplicates)} dup`]
  if (r.tally.misrouted) parts.push(`${n(r.tally.misrouted)} misrouted`)
  if (r.write.failed) parts.push(`${n(r.write.failed)} writes failed`)
  return [...parts, ...ended].join(', ')
}
/** Cores the machine spent on processes outside the benchmark. */
export const others = (cpu: CpuUse) => Math.max(0, cpu.machineCores - Object.values(cpu.processCores).reduce((a, b) => a + b, 0))
const cores = (cpu: CpuUse) => {
  const each = Object.entries(cpu.processCores)
    .filter(([label]) => label !== 'bench')
    .map(([label, c]) => `${label} ${n(c, 2)}`)
  return `${each.join(', ')}; machine ${n(cpu.machineCores, 2)} (other processes ${n(others(cpu), 2)})`
}
const gap = (r: PhaseRun) => {
  const d = r.tally.loopDelayMs
  const text =
    `longest pause between receipts ${n(r.tally.maxGapMs)} ms; receiving process's event loop delay ` +
    `p99 ${n(d.p99)} ms / max ${n(d.max)} ms`
  const m = r.gateway
  if (!m) return text
  return (
    `${text}; gateway GC ${n(m.gcSeconds)} s (${n((100 * m.gcSeconds) / ((r.cpu.processCores.gateway ?? NaN) * r.cpu.wallSeconds))}% of its CPU time; ` +
    `major ${n(m.majorGcSeconds)} s in ${n(m.majorGcs)}), event loop delay p99 ${n(m.loopDelayP99Ms)} ms / max ${n(m.loopDelayMaxMs)} ms, heap used ${n(m.heapUsedMb)} MB at the end`
  )
}
/** "p99 (max) per 5 s: 120 (300), 80 (95), …" */
const overTime = (r: PhaseRun) => {
  const w = r.tally.windows
  if (w.length < 2) return ''
  const width = w[1].fromMs / 1000
  return `; p99 (max) ms per ${n(width)} s of receipts: ${w.map((x) => (x.count ? `${n(x.p99)} (${n(x.max)})` : '—')).join(', ')}`
}
const met = (ok: boolean) => (ok ? 'met' : '**missed**')
const kb = (value: number) => `${n(value)} KB`

function highest(ladder: readonly PhaseRun[], maxP99Ms: number): { run: PhaseRun | undefined; all: boolean } {
  const ok = ladder.filter((r) => sustained(r, maxP99Ms))
  const run = ok.reduce<PhaseRun | undefined>((best, r) => (!best || deliveriesPerSecond(r) > deliveriesPerSecond(best) ? r : best), undefined)
  return { run, all: ok.length === ladder.length }
}

export function renderReport(m: Measurements, o: Options, meta: ReportMeta): { text: string; failed: boolean } {
  const out: string[] = []
  const aims: string[] = []
  const details: string[] = []
  let failed = false
  const g = m.gateway
  const d = m.driver

  out.push(
    '# Fan-out benchmark (`npm run bench:fanout`)',
    '',
    `- command: \`${meta.command}\``,
    `- date: ${meta.date}; node ${meta.node}; nproc ${meta.nproc}; \`ulimit -n\` ${meta.openFiles}; wall time ${n(meta.wallSeconds)} s; ` +
      `machine busy with other work before the start: ${n(meta.busyBefore, 2)} cores`,
    `- gateway source: ${meta.revision}`,
    `- layout: ${n(o.connections)} WebSocket connections × ${o.subscriptionsPerConnection} \`orderChanged\` subscriptions = ${n(m.subscriptions)}, ` +
      `tenants acme/globex; ${n(m.customers)} customers (${n(m.customers / 2)} per tenant), each watched by ${o.fanout} subscriptions on ${o.fanout} connections; ` +
      `inserts round-robin over the customers, so each matches exactly ${o.fanout} subscriptions`,
    '- processes: embedded server, gateway, writer (driver), load generator (every WebSocket), and for the baselines a driver watcher or a bare `ws` server; ' +
      'all on this machine, sharing its cores',
    '- latency: receive time in the load generator − `createdAt` stamped by the writer just before the insert (same clock), first receipts only',
    '',
  )

  if (g?.s1 || d) {
    const s1 = g?.s1
    const orders = g?.streamsSubscribed.filter((s) => s.collection === 'orders') ?? []
    const head = [
      `S1: ${n(o.rate)} inserts/s for ${o.seconds} s`,
      `changegate (${n(m.subscriptions)} subscriptions)`,
      d ? `baseline: ${n(d.streams)} driver streams, one \`$match\` each` : 'baseline',
      'changegate ÷ baseline',
    ]
    const rows: string[][] = []
    rows.push([
      'change streams opened on MongoDB',
      g ? `${n(g.streamsSubscribed.length)} (${orders.map((s) => `\`${s.key}\`: ${n(s.subscribers)} subscribers`).join(', ')})` : '—',
      d ? n(d.streams) : '—',
      g && d ? formatRatio(g.streamsSubscribed.length, d.streams) : '—',
    ])
    if (s1 || d) {
      const dr = d?.run
      rows.push(['inserts/s achieved', s1 ? n(writesPerSecond(s1)) : '—', dr ? n(writesPerSecond(dr)) : '—', '—'])
      rows.push([
        'deliveries/s',
        s1 ? n(deliveriesPerSecond(s1)) : '—',
        dr ? n(deliveriesPerSecond(dr)) : '—',
        s1 && dr ? formatRatio(deliveriesPerSecond(s1), deliveriesPerSecond(dr)) : '—',
      ])
      rows.push([
        'latency p50 / p99 / max (ms)',
        s1 ? latency(s1) : '—',
        dr ? latency(dr) : '—',
        s1 && dr ? `p99 ${formatRatio(s1.tally.latencyMs.p99, dr.tally.latencyMs.p99)}` : '—',
      ])
      rows.push(['delivered / expected', s1 ? `${n(s1.tally.received)} / ${n(s1.tally.expected)}` : '—', dr ? `${n(dr.tally.received)} / ${n(dr.tally.expected)}` : '—', '—'])
      rows.push(['lost, duplicates, ended', s1 ? losses(s1) : '—', dr ? losses(dr) : '—', '—'])
      rows.push([
        'CPU s per 1,000 deliveries: gateway (driver watcher for the baseline)',
        s1 ? n(cpuPer(s1, 'gateway', s1.tally.received)) : '—',
        dr ? n(cpuPer(dr, 'watcher', dr.tally.received)) : '—',
        s1 && dr ? formatRatio(cpuPer(s1, 'gateway', s1.tally.received), cpuPer(dr, 'watcher', dr.tally.received)) : '—',
      ])
      rows.push(['CPU cores used by other work on the machine meanwhile', s1 ? n(others(s1.cpu), 2) : '—', dr ? n(others(dr.cpu), 2) : '—', '—'])
      rows.push([
        'CPU s per 1,000 inserts: embedded server',
        s1 ? n(cpuPer(s1, 'mongo', s1.write.sent)) : '—',
        dr ? n(cpuPer(dr, 'mongo', dr.write.sent)) : '—',
        s1 && dr ? formatRatio(cpuPer(s1, 'mongo', s1.write.sent), cpuPer(dr, 'mongo', dr.write.sent)) : '—',
      ])
    }
    if (g) {
      const { before, connected, subscribed } = g.memory
      const per = (a: number, b: number) => (a - b) / m.subscriptions
      const perSub = per(subscribed.gcKb, connected.gcKb)
      const withConn = per(subscribed.gcKb, before.gcKb)
      rows.push([
        'gateway RSS per subscription, (subscribed − connected) / subscriptions, after a full GC (as found)',
        `${kb(perSub)} (${kb(per(subscribed.rawKb, connected.rawKb))})`,
        '—',
        '—',
      ])
      rows.push([
        '… counting the connections too, (subscribed − before any client) / subscriptions',
        `${kb(withConn)} (${kb(per(subscribed.rawKb, before.rawKb))})`,
        '—',
        '—',
      ])
      rows.push(['gateway live heap per subscription (after a full GC)', kb(per(subscribed.heapUsedKb, connected.heapUsedKb)), '—', '—'])
      aims.push(`gateway RSS per subscription ≤ ${AIMS.rssPerSubscriptionKb} KB: ${met(perSub <= AIMS.rssPerSubscriptionKb)} (${kb(perSub)} after a full GC; ${kb(withConn)} with the connections)`)
      aims.push(`1 change stream per collection: ${met(orders.length === 1 && g.streamsSubscribed.length === 1)} (${n(g.streamsSubscribed.length)} stream(s) for ${n(orders.reduce((a, s) => a + s.subscribers, 0))} subscribers)`)
      details.push(
        `gateway VmRSS after a full GC (as found): ${kb(before.gcKb)} (${kb(before.rawKb)}) before any client, ${kb(connected.gcKb)} (${kb(connected.rawKb)}) with ${n(g.connect.connected)} connections ` +
          `(${kb((connected.gcKb - before.gcKb) / g.connect.connected)} each), ${kb(subscribed.gcKb)} (${kb(subscribed.rawKb)}) with ${n(m.subscriptions)} subscriptions live; ` +
          `live heap ${kb(before.heapUsedKb)}, ${kb(connected.heapUsedKb)}, ${kb(subscribed.heapUsedKb)}`,
        `connect: ${n(g.connect.connected)} sockets acknowledged in ${n(g.connect.ms)} ms; subscriptions counted live by \`streams\` after ${n(g.subscribeMs)} ms; warm-up rounds before measuring: ${g.warmUpRounds}`,
      )
      if (g.streamsAfter) details.push(`\`streams\` after the ladder: ${g.streamsAfter.map((s) => `${s.key} ${s.state}, ${n(s.subscribers)} subscribers, ${n(s.eventsReceived)} events`).join('; ')}`)
    }
    if (s1) {
      aims.push(`S1 p99 ≤ ${AIMS.p99Ms} ms: ${met(s1.tally.latencyMs.p99 <= AIMS.p99Ms)} (${n(s1.tally.latencyMs.p99)} ms)`)
      const clean = s1.tally.lost === 0 && s1.tally.duplicates === 0 && s1.tally.misrouted === 0 && endedCount(s1) === 0 && s1.write.failed === 0
      aims.push(`S1 lost events = 0: ${met(clean)} (${losses(s1)})`)
      if (!clean) failed = true
      details.push(`S1 CPU cores: ${cores(s1.cpu)} over ${n(s1.cpu.wallSeconds)} s; writer max lag ${n(s1.write.maxLagMs)} ms; ${gap(s1)}${overTime(s1)}`)
    }
    if (d) {
      details.push(
        `driver baseline: ${n(d.streams)} streams delivering after ${n(d.openMs)} ms (${d.warmUpRounds} warm-up rounds); stream errors ${d.streamErrors}; ` +
          `CPU cores: ${cores(d.run.cpu)} over ${n(d.run.cpu.wallSeconds)} s; writer max lag ${n(d.run.write.maxLagMs)} ms; ${gap(d.run)}${overTime(d.run)}`,
      )
    }
    out.push(markdownTable(head, rows), '')
  }

  const bare = m.bare
  if ((g && g.ladder.length) || bare) {
    const gl = g?.ladder ?? []
    const bl = bare?.ladder ?? []
    const rows: string[][] = []
    for (let i = 0; i < Math.max(gl.length, bl.length); i++) {
      const a = gl[i]
      const b = bl[i]
      const rate = (a ?? b).rate
      rows.push([
        `${n(rate)}/s × ${o.stepSeconds} s`,
        a ? n(writesPerSecond(a)) : '—',
        a ? n(deliveriesPerSecond(a)) : '—',
        a ? latency(a) : '—',
        a ? losses(a) : '—',
        a ? (sustained(a, o.maxP99Ms) ? 'yes' : '**no**') : '—',
        a ? n(cpuPer(a, 'gateway', a.tally.received)) : '—',
        a ? n(others(a.cpu), 2) : '—',
        b ? n(deliveriesPerSecond(b)) : '—',
        b ? latency(b) : '—',
        b ? (sustained(b, o.maxP99Ms) ? 'yes' : '**no**') : '—',
        b ? n(cpuPer(b, 'bare', b.tally.received)) : '—',
        b ? n(others(b.cpu), 2) : '—',
      ])
      if (a) details.push(`S2 ${n(rate)}/s changegate CPU cores: ${cores(a.cpu)}; gateway CPU s per 1,000 deliveries ${n(cpuPer(a, 'gateway', a.tally.received))}; writer max lag ${n(a.write.maxLagMs)} ms; ${gap(a)}${overTime(a)}`)
      if (b) details.push(`S2 ${n(rate)}/s bare ws CPU cores: ${cores(b.cpu)}; broadcaster max lag ${n(b.write.maxLagMs)} ms; ${gap(b)}; ${losses(b)}`)
    }
    out.push(
      `S2: write rate in steps until p99 > ${n(o.maxP99Ms)} ms or a delivery is lost; bare \`ws\` broadcasts the same events at the same per-connection rate to the same ${n(o.connections)} connections`,
      '',
      markdownTable(
        [
          'step (events/s)',
          'inserts/s achieved',
          'changegate deliveries/s',
          'p50 / p99 / max (ms)',
          'lost, duplicates, ended',
          'sustained',
          'gateway CPU s / 1,000 deliveries',
          'other work (cores)',
          'bare ws deliveries/s',
          'bare p50 / p99 / max (ms)',
          'sustained',
          'bare server CPU s / 1,000 deliveries',
          'other work (cores)',
        ],
        rows,
      ),
      '',
    )
    const gh = highest(gl, o.maxP99Ms)
    const bh = highest(bl, o.maxP99Ms)
    if (gl.length && bl.length) {
      const gv = gh.run ? deliveriesPerSecond(gh.run) : 0
      const bv = bh.run ? deliveriesPerSecond(bh.run) : NaN
      const bound = bh.all ? ' (bare `ws` sustained every step: its ceiling lies higher, so the ratio is an upper bound)' : ''
      const gateBound = gh.all ? ' (changegate sustained every step: its ceiling lies higher)' : ''
      const ratio = gh.run ? formatRatio(gv, bv) : '0 (no step sustained)'
      const perCpu = (runs: readonly PhaseRun[], label: string) =>
        runs.reduce((sum, r) => sum + r.tally.received, 0) / runs.reduce((sum, r) => sum + (r.cpu.processCores[label] ?? NaN) * r.cpu.wallSeconds, 0)
      const gEff = perCpu(gl, 'gateway')
      const bEff = perCpu(bl, 'bare')
      out.push(
        `Highest sustained deliveries/s: changegate ${gh.run ? n(gv) : 'none'}, bare \`ws\` ${bh.run ? n(bv) : 'none'}; ratio ${ratio}${bound}${gateBound}`,
        '',
        `Deliveries per CPU second of the serving process over all steps run (independent of what else the machine ran): ` +
          `changegate ${n(gEff)}, bare \`ws\` ${n(bEff)}; ratio ${formatRatio(gEff, bEff)}`,
        '',
      )
      aims.push(`S2 changegate ÷ bare ws ≥ ${AIMS.ladderRatio}: ${met(gv / bv >= AIMS.ladderRatio)} (${ratio}; per CPU second ${formatRatio(gEff, bEff)})`)
    }
  }

  if (aims.length) out.push('Aims:', '', ...aims.map((a) => `- ${a}`), '')
  out.push(
    'Details:',
    '',
    ...details.map((line) => `- ${line}`),
    `- gateway: \`${meta.gatewayCommand}\``,
    `- embedded server: \`${meta.serverCommand}\``,
    `- a delivery counts as lost when it had not arrived ${n(o.idleMs)} ms after the last receipt of its phase, or 30 s (S1, baseline) / 10 s (S2 step) after the last write; ` +
      'S2 stops at the first step that is not sustained, so that step\'s losses are the overload signal, not a failure of the run',
    '',
  )
  return { text: out.join('\n'), failed }
}

export function renderProfile(summary: ProfileSummary, file: string): string {
  const row = (f: { frame: string; selfMs: number; totalMs: number }) => [f.frame, n(f.selfMs), n(f.totalMs)]
  return [
    `Gateway CPU profile (${file}): ${n(summary.sampledMs)} ms sampled, idle ${n(summary.idleMs)} ms, GC ${n(summary.gcMs)} ms`,
    '',
    'By self time:',
    '',
    markdownTable(['function', 'self ms', 'total ms'], summary.bySelf.map(row)),
    '',
    'By total time:',
    '',
    markdownTable(['function', 'self ms', 'total ms'], summary.byTotal.map(row)),
  ].join('\n')
}
