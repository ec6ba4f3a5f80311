/**
 * `npx tsx bench/metrics-scrape.ts [--fds N] [--sockets N] [--scrapes S] [--against FILE]`: how long a `/metrics`
 * scrape blocks the event loop while the process holds N open descriptors (of /dev/null) and N TCP sockets (N / 2
 * loopback connections, both ends here; a node with N WebSockets holds N sockets), for the gateway's registry
 * (src/observability/metrics.ts) and, as the baseline in the same process, prom-client's default metrics alone; with
 * `--against`, also the registry of another revision's `metrics.ts` (a copy of it inside this checkout, so that its
 * imports resolve). Rounds alternate the registries. Per registry: the event loop's delay while scrapes run one every
 * 20 ms (`monitorEventLoopDelay`, 1 ms resolution), and each scrape's time from its start to its promise settling.
 */
import { closeSync, openSync } from 'node:fs'
import { createServer, connect, type Socket } from 'node:net'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createMetrics } from '../src/observability/metrics.js'

const arg = (flag: string, fallback: number) => {
  const at = process.argv.indexOf(flag)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}
const fds = arg('--fds', 5000)
const socketCount = arg('--sockets', 0)
const scrapes = arg('--scrapes', 20)
const againstAt = process.argv.indexOf('--against')
const against = againstAt > 0 ? process.argv[againstAt + 1] : undefined

interface Measured {
  readonly p50: number
  readonly max: number
  readonly scrapeMean: number
  readonly scrapeMax: number
}

/** Over `scrapes` scrapes, one every 20 ms: the event loop's delay p50 / max and each scrape's duration, in ms. */
async function measure(registry: Registry): Promise<Measured> {
  await registry.metrics()
  const delay = monitorEventLoopDelay({ resolution: 1 })
  const durations: number[] = []
  delay.enable()
  for (let i = 0; i < scrapes; i++) {
    const start = performance.now()
    await registry.metrics()
    durations.push(performance.now() - start)
    await new Promise((done) => setTimeout(done, 20))
  }
  delay.disable()
  return {
    p50: delay.percentile(50) / 1e6,
    max: delay.max / 1e6,
    scrapeMean: durations.reduce((a, b) => a + b, 0) / durations.length,
    scrapeMax: Math.max(...durations),
  }
}

/** `count` TCP sockets held open: `count / 2` loopback connections, both ends in this process. */
async function openSockets(count: number): Promise<() => Promise<void>> {
  const accepted: Socket[] = []
  const server = createServer((socket) => accepted.push(socket))
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as { port: number }
  const clients: Socket[] = []
  for (let i = 0; i < count / 2; i += 200) {
    const batch = Array.from({ length: Math.min(200, count / 2 - i) }, () => new Promise<Socket>((done) => {
      const socket = connect(port, '127.0.0.1', () => done(socket))
    }))
    clients.push(...(await Promise.all(batch)))
  }
  while (accepted.length < clients.length) await new Promise((done) => setTimeout(done, 10))
  return async () => {
    for (const socket of [...clients, ...accepted]) socket.destroy()
    await new Promise<void>((done) => server.close(() => done()))
  }
}

const opened = Array.from({ length: fds }, () => openSync('/dev/null', 'r'))
const closeSockets = await openSockets(socketCount)
try {
  const baseline = new Registry()
  collectDefaultMetrics({ register: baseline })
  const registries: Array<[string, Registry]> = [
    ['prom-client default metrics', baseline],
    ...(against
      ? [[`${against}`, ((await import(pathToFileURL(resolve(against)).href)) as { createMetrics: typeof createMetrics }).createMetrics().registry] as [string, Registry]]
      : []),
    ['gateway metrics', createMetrics().registry],
  ]
  // Alternately, twice each: neither registry always runs on a warmer process.
  const rows: string[] = []
  for (let round = 1; round <= 2; round++) {
    for (const [name, registry] of registries) {
      const m = await measure(registry)
      rows.push(`| ${round} | ${name} | ${m.p50.toFixed(1)} | ${m.max.toFixed(1)} | ${m.scrapeMean.toFixed(2)} | ${m.scrapeMax.toFixed(1)} |`)
    }
  }
  process.stdout.write(
    [
      `${fds} extra open descriptors, ${socketCount} TCP sockets, ${scrapes} scrapes per registry per round, one every 20 ms; node ${process.version}`,
      '',
      '| round | registry | event loop delay p50 (ms) | event loop delay max (ms) | scrape mean (ms) | scrape max (ms) |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
    ].join('\n'),
  )
} finally {
  for (const fd of opened) closeSync(fd)
  await closeSockets()
}
