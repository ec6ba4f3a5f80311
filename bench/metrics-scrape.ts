/**
 * `npx tsx bench/metrics-scrape.ts [--fds N] [--scrapes S]`: how long a `/metrics` scrape blocks the event loop
 * while the process holds N open descriptors (a node with N WebSockets holds about that many), for the gateway's
 * registry (src/observability/metrics.ts) and, as the baseline in the same process, prom-client's default metrics
 * alone. Each scrape is timed from its start to its promise settling, and the event loop's delay is sampled
 * throughout (`monitorEventLoopDelay`, 1 ms resolution); reported per registry: the longest synchronous part of a
 * scrape (time until the first await returned control, measured as the delay of a timer armed just before it).
 */
import { closeSync, openSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createMetrics } from '../src/observability/metrics.js'

const arg = (flag: string, fallback: number) => {
  const at = process.argv.indexOf(flag)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}
const fds = arg('--fds', 5000)
const scrapes = arg('--scrapes', 20)

/** The event loop's delay over `scrapes` scrapes, one every 20 ms, as p50 / max in ms. */
async function measure(registry: Registry): Promise<{ p50: number; max: number }> {
  await registry.metrics()
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  for (let i = 0; i < scrapes; i++) {
    await registry.metrics()
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  delay.disable()
  return { p50: delay.percentile(50) / 1e6, max: delay.max / 1e6 }
}

const opened = Array.from({ length: fds }, () => openSync('/dev/null', 'r'))
try {
  const baseline = new Registry()
  collectDefaultMetrics({ register: baseline })
  // Alternately, twice each: neither registry always runs on a warmer process.
  const rows: string[] = []
  for (let round = 1; round <= 2; round++) {
    for (const [name, registry] of [
      ['prom-client default metrics', baseline],
      ['gateway metrics', createMetrics().registry],
    ] as const) {
      const { p50, max } = await measure(registry)
      rows.push(`| ${round} | ${name} | ${p50.toFixed(1)} | ${max.toFixed(1)} |`)
    }
  }
  process.stdout.write(
    [
      `${fds} extra open descriptors, ${scrapes} scrapes per registry per round, one every 20 ms; node ${process.version}`,
      '',
      '| round | registry | event loop delay p50 (ms) | event loop delay max (ms) |',
      '|---|---|---|---|',
      ...rows,
      '',
    ].join('\n'),
  )
} finally {
  for (const fd of opened) closeSync(fd)
}
