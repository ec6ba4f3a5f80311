/**
 * The gateway's `/metrics` over consecutive windows, one scrape per boundary: prom-client resets its event-loop
 * histogram at every scrape, so each scrape reports exactly the window since the one before (the shape of
 * bench/fanout/gateway-metrics.ts, with one scrape where two windows meet).
 */
import type { GatewayMetrics } from '../fanout/gateway-metrics.js'
import { measureCpu, type CpuUse } from '../lib/cpu.js'

type Sample = Map<string, number>

async function scrape(metricsUrl: string): Promise<Sample> {
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

function difference(before: Sample, after: Sample): GatewayMetrics {
  return {
    gcSeconds: sumOf(after, GC_SUM) - sumOf(before, GC_SUM),
    majorGcSeconds: sumOf(after, GC_SUM, 'major') - sumOf(before, GC_SUM, 'major'),
    majorGcs: sumOf(after, GC_COUNT, 'major') - sumOf(before, GC_COUNT, 'major'),
    loopDelayP99Ms: (after.get('changegate_nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
    loopDelayMaxMs: (after.get('changegate_nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
    heapUsedMb: (after.get('changegate_nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20,
  }
}

export interface Window {
  readonly cpu: CpuUse
  readonly gateway: GatewayMetrics
}

/** Starts the first window; each `mark()` ends the current window (reporting it) and starts the next. */
export async function startWindows(metricsUrl: string, pids: Readonly<Record<string, number>>): Promise<{ mark(): Promise<Window> }> {
  let cpu = measureCpu(pids)
  let sample = await scrape(metricsUrl)
  return {
    async mark() {
      const used = cpu()
      cpu = measureCpu(pids)
      const next = await scrape(metricsUrl)
      const gateway = difference(sample, next)
      sample = next
      return { cpu: used, gateway }
    },
  }
}
