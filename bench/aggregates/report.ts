/** The live aggregates benchmark's report: each run's figures, and aggregates against the baseline as ratios. */
import type { CpuUse } from '../lib/cpu.js'
import { markdownTable } from '../lib/markdown.js'
import { formatNumber, formatRatio, type LatencySummary } from '../lib/stats.js'
import type { Layout } from './layout.js'
import type { Options, RunName } from './options.js'
import type { MixedResult } from './writer.js'

export interface RunResult {
  readonly name: RunName
  readonly throttleMs: number | null
  readonly subscribeMs: number
  readonly write: MixedResult
  /** Commits the driver stream saw during the measured writes. */
  readonly commits: number
  readonly cpu: CpuUse
  /** CPU seconds over the measured phase (writes and drain), by process. */
  readonly cpuSeconds: Readonly<Record<string, number>>
  readonly messages: number
  readonly bytes: number
  readonly values: number
  readonly latencyMs: LatencySummary
  /** Samples whose commit the driver stream did not see, and samples of commits outside the measured writes. */
  readonly unmatched: number
  readonly outside: number
  readonly ended: Record<string, number>
  readonly dropped: number
  readonly rssKb: number
  readonly rssAfterGcKb: number
  readonly clientTotals: number
  /** From the last write until the last measured commit had arrived and all was quiet; NaN: not within the limit. */
  readonly drainSeconds: number
}

export interface Context {
  readonly command: string
  readonly date: string
  readonly node: string
  readonly nproc: string
  readonly loadAverage: string
  readonly busyBefore: number
  readonly revision: string
  readonly gatewayCommand: string
  readonly serverCommand: string
  readonly wallSeconds: number
}

const perThousand = (seconds: number, writes: number) => (seconds / writes) * 1000
const mb = (kb: number) => kb / 1024
const n = (value: number) => formatNumber(value)

interface Row {
  readonly label: string
  readonly value: (r: RunResult) => number
  /** No ratio for this row. */
  readonly plain?: boolean
}

const ROWS: readonly Row[] = [
  { label: 'writes committed (measured)', value: (r) => r.write.changes, plain: true },
  { label: 'write rate achieved (/s)', value: (r) => r.write.changes / ((r.write.endedAt - r.write.startedAt) / 1000), plain: true },
  { label: 'gateway CPU s per 1,000 writes', value: (r) => perThousand(r.cpuSeconds.gateway, r.write.changes) },
  { label: 'client CPU s per 1,000 writes', value: (r) => perThousand(r.cpuSeconds.clients, r.write.changes) },
  { label: 'WebSocket messages per write', value: (r) => r.messages / r.write.changes },
  { label: 'WebSocket bytes per write', value: (r) => r.bytes / r.write.changes },
  { label: 'commit→emission p50 (ms)', value: (r) => r.latencyMs.p50 },
  { label: 'commit→emission p99 (ms)', value: (r) => r.latencyMs.p99 },
  { label: 'commit→emission max (ms)', value: (r) => r.latencyMs.max },
  { label: 'gateway RSS at end of phase (MB)', value: (r) => mb(r.rssKb) },
  { label: 'gateway RSS after full GC (MB)', value: (r) => mb(r.rssAfterGcKb) },
]

const DETAIL_ROWS: readonly Row[] = [
  { label: 'latency samples', value: (r) => r.latencyMs.count },
  { label: 'samples without a driver commit', value: (r) => r.unmatched },
  { label: 'samples of commits outside the measured writes', value: (r) => r.outside },
  { label: 'commits seen by the driver stream', value: (r) => r.commits },
  { label: 'measured phase (s, writes and drain)', value: (r) => r.cpu.wallSeconds },
  { label: 'drain after the last write (s; NaN: gave up at 60 s)', value: (r) => r.drainSeconds },
  { label: 'gateway cores (average)', value: (r) => r.cpu.processCores.gateway },
  { label: 'client cores (average)', value: (r) => r.cpu.processCores.clients },
  { label: 'MongoDB (embedded) cores', value: (r) => r.cpu.processCores.mongo },
  { label: 'machine busy cores (all processes)', value: (r) => r.cpu.machineCores },
  { label: 'gateway share of time waiting for a CPU', value: (r) => r.cpu.processWaiting.gateway },
  { label: 'writer max lag (ms)', value: (r) => r.write.maxLagMs },
  { label: 'values/events received', value: (r) => r.values },
  { label: 'client-side totals held (baseline)', value: (r) => r.clientTotals },
  { label: 'subscribe time (ms)', value: (r) => r.subscribeMs },
]

const TITLES: Record<RunName, string> = {
  aggregates: 'aggregates (default throttle)',
  baseline: 'baseline (raw changes, client totals)',
  unthrottled: 'aggregates, throttleMs: 0',
}

export function renderReport(runs: readonly RunResult[], o: Options, layout: Layout, context: Context): string {
  const baseline = runs.find((r) => r.name === 'baseline')
  const header = ['', ...runs.flatMap((r) => (r.name === 'baseline' || !baseline ? [TITLES[r.name]] : [TITLES[r.name], `${r.name} ÷ baseline`]))]
  const rows = (list: readonly Row[], ratios: boolean) =>
    list.map((row) => [
      row.label,
      ...runs.flatMap((r) => {
        const cells = [n(row.value(r))]
        if (r.name !== 'baseline' && baseline) cells.push(ratios && !row.plain ? formatRatio(row.value(r), row.value(baseline)) : '')
        return cells
      }),
    ])
  const ended = runs.map((r) => `${r.name}: ${Object.keys(r.ended).length ? JSON.stringify(r.ended) : 'none'}${r.dropped ? `, ${r.dropped} sockets closed by the server` : ''}`)
  const perWrite = (layout.combinations / 2 / layout.regions).toFixed(1)
  return [
    '# Live aggregates benchmark',
    '',
    `\`${context.command}\` — ${context.date}, revision ${context.revision}, Node ${context.node}, ${context.nproc} cores;`,
    `load average before the run ${context.loadAverage} (machine busy ${n(context.busyBefore)} cores over 2 s); whole run ${n(context.wallSeconds)} s.`,
    '',
    `Embedded MongoDB server (\`${context.serverCommand}\`), one gateway process per run (\`${context.gatewayCommand}\`), a writer, a`,
    `driver change stream that records each commit's \`wallTime\`, and one client process holding ${layout.connections} WebSockets with`,
    `${layout.subscriptions} subscriptions: ${layout.combinations} distinct (tenant, where, groupBy, window) combinations × ${layout.subscribersPerCombination} subscribers.`,
    `Each \`where\` names one of ${layout.regions} regions per tenant (five panel kinds: all time by status; all time, amount ≥ 50, by status`,
    `and currency; 300 s window sliding by 10 s on createdAt by status; 60 s window sliding by 5 s on commit time by currency;`,
    `60 s tumbling window on commit time, not cancelled), so a write concerns about ${perWrite} combinations of its tenant.`,
    `Writes: ${n(o.rate)}/s for ${o.seconds} s per run (after ${o.warmUpSeconds} s of warm-up), 40 % inserts, 40 % updates, 20 % deletes over`,
    `two tenants, ${n(o.seedDocuments)} orders seeded before the first run; every run writes to the same collection.`,
    '',
    '- **aggregates**: `orderAggregate` per subscription, default `throttleMs`; the client only decodes the value.',
    '- **baseline**: `orderChanged(filter: { where })` with the same `where`; the client keeps count and sum of `totalAmount` per',
    '  (window bucket, group) from each event\'s pre- and post-image, like a dashboard would (it starts from empty: no initial read).',
    '- **unthrottled**: as aggregates with `throttleMs: 0`.',
    '',
    'Commit→emission: receipt time minus the `wallTime` of the commit the value\'s cursor stands for (one sample per subscriber',
    'and commit: a value repeated on a window tick is not a sample; aggregates values carry the last commit they reflect, so',
    'the throttle\'s wait is part of it). For the baseline, the event\'s commit→receipt. Only commits of the measured writes count.',
    'CPU: /proc utime + stime over the measured phase (writes, then until the last measured commit arrived and no message came',
    'for 1 s). Bytes: WebSocket payloads.',
    '',
    markdownTable(header, rows(ROWS, true)),
    '',
    '<details><summary>Details</summary>',
    '',
    markdownTable(header, rows(DETAIL_ROWS, false)),
    '',
    `Subscriptions ended during the measured phase: ${ended.join('; ')}.`,
    '',
    '</details>',
  ].join('\n')
}
