/**
 * `npx tsx bench/fanout/curve.ts [--old PATH] [--sizes 1000,5000,10000,25000] [S1 flags of bench:fanout]`
 *
 * The cost curve: S1 (the same insert rate and fan-out, so the same deliveries/s) at several subscription counts,
 * `--subscriptions-per-connection` (default 5) per connection, in one invocation. For each size, the old checkout
 * (when `--old` is given) and this one run alternately, each from nothing (s1-once.ts). Reports per size the gateway's
 * CPU s per 1,000 deliveries, RSS per subscription and per idle connection (after a full GC), latency, event-loop
 * delay, and losses, so growth with the number of subscriptions shows. Writes .bench-out/fanout-curve.md too.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { measureCpu, reserveCpus } from '../lib/cpu.js'
import { markdownTable } from '../lib/markdown.js'
import { formatNumber as n } from '../lib/stats.js'
import { ROOT } from './gateway-process.js'
import { createLayout } from './layout.js'
import { parseOptions } from './options.js'
import { figures, log, revisionOf, runS1Once, TENANTS, type Tree } from './s1-once.js'

function parseArgs(argv: readonly string[]): { old?: string; sizes: number[]; rest: string[] } {
  let old: string | undefined
  let sizes = [1_000, 5_000, 10_000, 25_000]
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes('=') ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined]
    const value = () => inline ?? argv[++i]
    if (flag === '--old') old = resolve(value())
    else if (flag === '--sizes') sizes = value().split(',').map(Number)
    else rest.push(argv[i])
  }
  if (sizes.some((s) => !Number.isSafeInteger(s) || s <= 0)) throw new Error('--sizes takes positive integers')
  return { old, sizes, rest }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2)
  const { old, sizes, rest } = parseArgs(argv)
  const base = parseOptions(rest)
  if (base.gatewayCpus) reserveCpus(base.gatewayCpus)
  const trees: Tree[] = [
    ...(old ? [{ label: 'old' as const, root: old, revision: revisionOf(old) }] : []),
    { label: 'new', root: ROOT, revision: revisionOf(ROOT) },
  ]
  const before = loadavg()
  const machine = measureCpu({})
  const started = performance.now()
  const rows: string[][] = []
  let failed = false
  let index = 0
  for (const size of sizes) {
    const connections = size / base.subscriptionsPerConnection
    const o = { ...base, connections }
    const layout = createLayout({ connections, subscriptionsPerConnection: o.subscriptionsPerConnection, tenants: TENANTS, fanout: o.fanout })
    for (const tree of trees) {
      const r = await runS1Once(tree, ++index, o, layout).catch((error: unknown) => error as Error)
      if (r instanceof Error) {
        failed = true
        log(`${n(size)} subscriptions, ${tree.label}: failed: ${r.message}`)
        rows.push([n(size), n(connections), `${tree.label} (${tree.revision})`, `run failed: ${r.message.split('\n')[0]}`, ...Array<string>(12).fill('—')])
        continue
      }
      const f = figures(r, layout)
      failed ||= f.lost > 0 || f.duplicates > 0
      log(`${n(size)} subscriptions, ${tree.label}: ${n(f.cpuPer1000)} CPU s / 1,000 deliveries, ${n(f.rssPerSubscriptionKb)} KB / subscription, p99 ${n(f.p99)} ms`)
      rows.push([
        n(size),
        n(connections),
        `${tree.label} (${tree.revision})`,
        n(r.load1, 3),
        n(f.deliveriesPerSecond),
        `${n(f.p50)} / ${n(f.p99)} / ${n(f.max)}`,
        `${n(f.lost)} / ${n(f.duplicates)}`,
        n(f.cpuPer1000),
        n(f.rssPerSubscriptionKb),
        n(f.heapPerSubscriptionKb),
        n(f.rssPerConnectionKb),
        `${n(f.loopDelayP99Ms)} / ${n(f.loopDelayMaxMs)}`,
        n(f.receiverLoopDelayMaxMs),
        n(f.gatewayCores, 2),
        n(f.otherCores, 2),
        n(f.subscribeMs),
      ])
    }
  }
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ')
  const text = [
    '# Fan-out cost curve',
    '',
    `- command: \`npx tsx bench/fanout/curve.ts ${argv.join(' ')}\``,
    `- ${trees.map((t) => `${t.label}: ${t.revision} (${t.root})`).join('; ')}`,
    `- date: ${new Date().toISOString()}; node ${process.version}; nproc ${execFileSync('nproc', { encoding: 'utf8' }).trim()}; wall time ${n((performance.now() - started) / 1000)} s; machine busy ${n(machine().machineCores, 2)} cores on average`,
    `- load average (1, 5, 15 min) before: ${load(before)}; after: ${load(loadavg())}`,
    `- each run: S1, ${n(base.rate)} inserts/s for ${base.seconds} s, each matching ${base.fanout} subscriptions (${n(base.rate * base.fanout)} deliveries/s expected), ${base.subscriptionsPerConnection} subscriptions per connection`,
    '',
    markdownTable(
      [
        'subscriptions',
        'connections',
        'gateway',
        'load avg (1 min) at start',
        'deliveries/s',
        'p50 / p99 / max (ms)',
        'lost / dup',
        'gateway CPU s / 1,000 deliveries',
        'RSS / subscription (KB)',
        'heap / subscription (KB)',
        'RSS / idle connection (KB)',
        'event loop delay p99 / max (ms)',
        "clients' event loop delay max (ms)",
        'gateway cores',
        'other work (cores)',
        'all subscriptions live after (ms)',
      ],
      rows,
    ),
  ].join('\n')
  process.stdout.write(`${text}\n`)
  mkdirSync(join(ROOT, '.bench-out'), { recursive: true })
  writeFileSync(join(ROOT, '.bench-out/fanout-curve.md'), `${text}\n`)
  return failed ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`fan-out curve failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  },
)
