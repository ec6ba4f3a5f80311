/**
 * The gateway's `/metrics` over consecutive windows, one scrape per boundary: prom-client resets its event-loop
 * histogram at every scrape, so each scrape reports exactly the window since the one before (the shape of
 * bench/fanout/gateway-metrics.ts, with one scrape where two windows meet).
 */
import { difference, scrape, type GatewayMetrics } from '../fanout/gateway-metrics.js'
import { measureCpu, type CpuUse } from '../lib/cpu.js'

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
