/**
 * The gateway's own view of a phase, from its `/metrics` (Prometheus text): garbage collection time and the event
 * loop's delay. prom-client resets the event-loop histogram at every scrape, so a scrape at a phase's start and one
 * at its end bracket the phase.
 */

export interface GatewayMetrics {
  /** Seconds spent in garbage collection during the phase, all kinds, and in major (mark-compact) collections. */
  readonly gcSeconds: number
  readonly majorGcSeconds: number
  readonly majorGcs: number
  /** Event loop delay over the phase (ms). */
  readonly loopDelayP99Ms: number
  readonly loopDelayMaxMs: number
  readonly heapUsedMb: number
}

/** One scrape: every sample line's value by its name and labels. */
export type Sample = Map<string, number>

export async function scrape(metricsUrl: string): Promise<Sample> {
  const text = await (await fetch(metricsUrl)).text()
  const out: Sample = new Map()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

const sumOf = (sample: Sample, prefix: string, kind?: string) => {
  let sum = 0
  for (const [key, value] of sample) {
    if (key.startsWith(prefix) && (kind === undefined || key.includes(`kind="${kind}"`))) sum += value
  }
  return sum
}

const GC_SUM = 'changegate_nodejs_gc_duration_seconds_sum'
const GC_COUNT = 'changegate_nodejs_gc_duration_seconds_count'

/** What the gateway reports between two scrapes (the event-loop figures are the later scrape's own: see above). */
export function difference(before: Sample, after: Sample): GatewayMetrics {
  return {
    gcSeconds: sumOf(after, GC_SUM) - sumOf(before, GC_SUM),
    majorGcSeconds: sumOf(after, GC_SUM, 'major') - sumOf(before, GC_SUM, 'major'),
    majorGcs: sumOf(after, GC_COUNT, 'major') - sumOf(before, GC_COUNT, 'major'),
    loopDelayP99Ms: (after.get('changegate_nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
    loopDelayMaxMs: (after.get('changegate_nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
    heapUsedMb: (after.get('changegate_nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20,
  }
}

/** Scrapes now; the returned function scrapes again and reports the difference. */
export async function watchGatewayMetrics(metricsUrl: string): Promise<() => Promise<GatewayMetrics>> {
  const before = await scrape(metricsUrl)
  return async () => difference(before, await scrape(metricsUrl))
}
