/** The catch-up benchmark's report: how fast resumers get back to live, and what it costs the live subscribers. */
import { markdownTable } from '../lib/markdown.js'
import { formatNumber as n, type LatencySummary } from '../lib/stats.js'
import type { PhaseTally } from '../fanout/protocol.js'
import type { PacedResult } from '../lib/paced-inserts.js'
import type { Window } from './metrics.js'
import type { Options } from './options.js'
import type { CollectResult, ConnectResult } from './protocol.js'


export interface Measurements {
  readonly liveSubscriptions: number
  readonly customers: number
  readonly connect: ConnectResult
  readonly warmUpRounds: number
  /** The resumers' tally of the warm-up writes before they left. */
  readonly warmUp: PhaseTally
  readonly withCursor: number
  /** Seconds from the resumers' leaving to their resubscribing. */
  readonly cursorAgeS: number
  readonly write: PacedResult
  readonly result: CollectResult
  /** From the resubscribe until every resumer was live (or the writes ended). */
  readonly catchUpMs: number
  readonly before: Window
  readonly during: Window
  readonly after: Window
}

export interface ReportMeta {
  readonly command: string
  readonly date: string
  readonly node: string
  readonly nproc: string
  readonly busyBefore: number
  readonly revision: string
  readonly gatewayCommand: string
  readonly serverCommand: string
  readonly wallSeconds: number
}

const ms = (s: LatencySummary) => [n(s.count), n(s.p50), n(s.p99), n(s.max)]
const pct = (x: number) => `${Math.round(x * 100)} %`
const codes = (ended: Record<string, number>) => Object.entries(ended).map(([c, k]) => `${c} ${k}`).join(', ') || 'none'

function cpuRow(label: string, w: Window): string[] {
  const c = w.cpu.processCores
  return [label, n(w.cpu.wallSeconds), n(w.cpu.machineCores), n(c.gateway), n(c.mongo), n(c.writer), n(c.clients), pct(w.cpu.processWaiting.gateway), n(w.gateway.loopDelayP99Ms), n(w.gateway.loopDelayMaxMs), n(w.gateway.gcSeconds)]
}

export function renderReport(m: Measurements, o: Options, meta: ReportMeta): { text: string; failed: boolean } {
  const r = m.result
  const s = r.resumerSummary
  const lost = r.live.lost + r.resumers.lost
  const duplicates = r.live.duplicates + r.resumers.duplicates + s.beforeCursor
  const allLive = s.live === s.resumers && Object.keys(s.ended).length === 0
  const liveInTime = allLive && s.timeToLiveMs.max <= o.liveWithinMs
  const p99Held = r.liveDuring.p99 <= o.liveP99Ms
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**')
  const timeline = r.timeline.filter((b) => b.fromS >= -10 && b.fromS <= Math.ceil(m.catchUpMs / 1000) + 5)
  const lines = [
    '# Catch-up at scale',
    '',
    `${n(s.resumers)} subscribers resume at once with \`after:\` cursors ${n(m.cursorAgeS)} s old while ${n(o.rate)} inserts/s continue; ${n(m.liveSubscriptions)} live subscriptions are measured commit → client throughout.`,
    '',
    `- Command: \`${meta.command}\``,
    `- Revision: ${meta.revision}; ${meta.date}; Node ${meta.node}; ${meta.nproc} cores; machine busy before the run: ${n(meta.busyBefore)} cores; wall ${n(meta.wallSeconds)} s`,
    `- Gateway: \`${meta.gatewayCommand}\``,
    `- Server: \`${meta.serverCommand}\``,
    `- Layout: ${n(m.liveSubscriptions)} live subscriptions on ${n(m.connect.liveSockets)} sockets, each write matching ${o.fanout}; ${n(s.resumers)} resumers on ${n(m.connect.resumerSockets)} sockets, resumer r watching customer r mod ${n(m.customers)} (one write per customer every ${n(m.customers / o.rate)} s, so "live" below is known to within that)`,
    `- Warm-up: ${m.warmUpRounds} rounds; the resumers then held ${n(m.warmUp.received)}/${n(m.warmUp.expected)} warm-up deliveries (${m.warmUp.duplicates} duplicated) and ${n(m.withCursor)} had a cursor when they left`,
    `- Writes: ${n(m.write.sent)} sent (${m.write.failed} failed), writer lag max ${n(m.write.maxLagMs)} ms`,
    '',
    '## Aim 6',
    '',
    markdownTable(
      ['aim', 'measured', 'verdict'],
      [
        ['every resumer live within 10 s', `${n(s.live)}/${n(s.resumers)} live; max ${n(s.timeToLiveMs.max)} ms`, verdict(liveInTime)],
        [`live p99 ≤ ${o.liveP99Ms} ms during the catch-up`, `${n(r.liveDuring.p99)} ms (before: ${n(r.liveBefore.p99)} ms)`, verdict(p99Held)],
        ['nothing lost or duplicated', `${n(lost)} lost, ${n(duplicates)} duplicated`, verdict(lost === 0 && duplicates === 0)],
      ],
    ),
    '',
    '## Resumers',
    '',
    markdownTable(
      ['from resubscribing to…', 'count', 'p50 ms', 'p99 ms', 'max ms'],
      [
        ['first delivery', ...ms(s.firstDeliveryMs)],
        ['last replayed event (committed before the resubscribe)', ...ms(s.replayMs)],
        ['first event committed after the resubscribe ("live")', ...ms(s.timeToLiveMs)],
        ['(that event: commit → client)', ...ms(s.firstLiveLatencyMs)],
      ],
    ),
    '',
    `Events replayed: ${n(s.replayed)} (${n(s.replayed / Math.max(1, s.resumers))} per resumer). Catch-up window (resubscribe → last resumer live): ${n(m.catchUpMs)} ms. Resumer deliveries ${n(r.resumers.received)}/${n(r.resumers.expected)}, lost ${r.resumers.lost}, duplicated ${r.resumers.duplicates}, misrouted ${r.resumers.misrouted}, warm-up events delivered again after the cursor ${s.beforeCursor}; ended: ${codes(s.ended)}.`,
    '',
    '## Live subscribers (commit → client, ms)',
    '',
    markdownTable(
      ['window', 'deliveries', 'p50', 'p99', 'max'],
      [
        ['before the resume (from 5 s into the phase)', ...ms(r.liveBefore)],
        ['catch-up window', ...ms(r.liveDuring)],
        ['after it', ...ms(r.liveAfter)],
      ],
    ),
    '',
    `Live deliveries ${n(r.live.received)}/${n(r.live.expected)}, lost ${r.live.lost}, duplicated ${r.live.duplicates}, misrouted ${r.live.misrouted}; ended: ${codes(r.liveEnded)}; unparsed messages ${r.unparsed}; sockets closed by the server ${r.dropped}.`,
    '',
    '## CPU and event loop',
    '',
    markdownTable(
      ['window', 'wall s', 'machine cores', 'gateway', 'mongo', 'writer', 'clients', 'gateway waiting for CPU', 'loop delay p99 ms', 'loop delay max ms', 'GC s'],
      [cpuRow('before the resume', m.before), cpuRow('catch-up window', m.during), cpuRow('after it', m.after)],
    ),
    '',
    '## Timeline (1 s buckets from the resubscribe)',
    '',
    markdownTable(
      ['s', 'live deliveries', 'live p99 ms', 'live max ms', 'resumer deliveries'],
      timeline.map((b) => [String(b.fromS), n(b.liveCount), n(b.liveP99), n(b.liveMax), n(b.resumerCount)]),
    ),
  ]
  return { text: lines.join('\n'), failed: lost > 0 || duplicates > 0 }
}
