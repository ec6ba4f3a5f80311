/**
 * Event-loop delay of a benchmark process, for telling a server's latency from the scheduling of the processes around
 * it: how late a 1 ms timer ran (`monitorEventLoopDelay`), from the last `reset` on.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'

export interface LoopDelay {
  /** Milliseconds. */
  readonly p50: number
  readonly p99: number
  readonly max: number
}

export interface LoopDelayMonitor {
  reset(): void
  read(): LoopDelay
}

export function createLoopDelayMonitor(): LoopDelayMonitor {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  return {
    reset: () => histogram.reset(),
    read: () => ({
      p50: histogram.percentile(50) / 1e6,
      p99: histogram.percentile(99) / 1e6,
      max: histogram.max / 1e6,
    }),
  }
}
