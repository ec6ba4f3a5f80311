/**
 * `npm run bench:fanout:compare -- --old PATH [--runs N] [--connections N] [--rate R] [--seconds S] [...]`
 *
 * S1 of the fan-out benchmark against two checkouts of the gateway, alternately (old, new, old, new, …), with the
 * same parameters: the old one at PATH (a git worktree of an earlier revision, its own node_modules in place), the
 * new one this checkout. Every run starts from nothing: a fresh embedded server, writer, gateway and load generator,
 * so runs share only the machine. The embedded server, writer and load generator always come from this checkout;
 * only the gateway (`src/main.ts`) differs. Prints each run and the new/old ratio of the medians, and writes the
 * same text to .bench-out/fanout-compare.md. Exits non-zero when a delivery was lost or duplicated.
 *
 * The S1 flags of `npm run bench:fanout` apply (options.ts); `--runs` is the number of runs per checkout (default 2).
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { measureCpu, reserveCpus } from '../lib/cpu.js'
import { markdownTable } from '../lib/markdown.js'
import { formatNumber as n } from '../lib/stats.js'
import { ROOT } from './gateway-process.js'
import { createLayout, type Layout } from './layout.js'
import { parseOptions, type Options } from './options.js'
import { figures, log, median, revisionOf, runS1Once, TENANTS, type Figures, type RunResult, type Tree } from './s1-once.js'

function parseArgs(argv: readonly string[]): { old: string; runs: number; rest: string[] } {
  let old: string | undefined
  let runs = 2
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes('=') ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined]
    const value = () => inline ?? argv[++i]
    if (flag === '--old') old = value()
    else if (flag === '--runs') runs = Number(value())
    else rest.push(argv[i])
  }
  if (!old) throw new Error('usage: npm run bench:fanout:compare -- --old PATH [--runs N] [S1 flags of bench:fanout]')
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error('--runs needs a positive integer')
  return { old: resolve(old), runs, rest }
}

const METRICS: ReadonlyArray<{ key: keyof Figures; label: string; better: 'higher' | 'lower' }> = [
  { key: 'deliveriesPerSecond', label: 'deliveries/s', better: 'higher' },
  { key: 'p50', label: 'commit→client p50 (ms)', better: 'lower' },
  { key: 'p99', label: 'commit→client p99 (ms)', better: 'lower' },
  { key: 'cpuPer1000', label: 'gateway CPU s per 1,000 deliveries', better: 'lower' },
  { key: 'loopDelayP99Ms', label: 'gateway event loop delay p99 (ms)', better: 'lower' },
  { key: 'loopDelayMaxMs', label: 'gateway event loop delay max (ms)', better: 'lower' },
  { key: 'receiverLoopDelayMaxMs', label: "clients' (receiving process) event loop delay max (ms)", better: 'lower' },
  { key: 'rssPerSubscriptionKb', label: 'gateway RSS per subscription (KB, after a full GC)', better: 'lower' },
  { key: 'rssPerConnectionKb', label: 'gateway RSS per idle connection (KB, after a full GC)', better: 'lower' },
  { key: 'subscribeMs', label: 'all subscriptions live after (ms)', better: 'lower' },
  { key: 'gatewayCores', label: 'gateway cores during S1', better: 'lower' },
  { key: 'otherCores', label: 'other work on the machine during S1 (cores)', better: 'lower' },
]

function render(results: readonly RunResult[], o: Options, layout: Layout, meta: { command: string; before: number[]; after: number[]; trees: Tree[]; wallSeconds: number }): string {
  const rows = results.map((r) => {
    const f = figures(r, layout)
    return [
      String(r.index),
      `${r.tree.label} (${r.tree.revision})`,
      n(r.load1, 3),
      n(f.deliveriesPerSecond),
      `${n(f.p50)} / ${n(f.p99)} / ${n(f.max)}`,
      `${n(f.lost)} / ${n(f.duplicates)}`,
      n(f.cpuPer1000),
      n(f.rssPerSubscriptionKb),
      n(f.gatewayCores, 2),
      n(f.otherCores, 2),
      `${n(f.loopDelayP99Ms)} / ${n(f.loopDelayMaxMs)}`,
      n(f.subscribeMs),
      `${n(r.s1.tally.received)} / ${n(r.s1.tally.expected)}`,
    ]
  })
  const perTree = (label: Tree['label']) => results.filter((r) => r.tree.label === label).map((r) => figures(r, layout))
  const olds = perTree('old')
  const news = perTree('new')
  const ratioRows = METRICS.map(({ key, label, better }) => {
    const a = median(olds.map((f) => f[key]))
    const b = median(news.map((f) => f[key]))
    return [label, n(a), n(b), n(b / a), better]
  })
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ')
  return [
    '# Fan-out S1, two revisions alternately (`npm run bench:fanout:compare`)',
    '',
    `- command: \`${meta.command}\``,
    `- old: ${meta.trees[0].revision} (${meta.trees[0].root}); new: ${meta.trees[1].revision} (${meta.trees[1].root})`,
    `- date: ${new Date().toISOString()}; node ${process.version}; nproc ${execFileSync('nproc', { encoding: 'utf8' }).trim()}; wall time ${n(meta.wallSeconds)} s`,
    `- load average (1, 5, 15 min) before: ${load(meta.before)}; after: ${load(meta.after)}`,
    `- S1: ${n(o.connections)} connections × ${o.subscriptionsPerConnection} subscriptions = ${n(layout.subscriptions)}, ${n(o.rate)} inserts/s for ${o.seconds} s, each insert matching ${o.fanout}`,
    '',
    markdownTable(
      [
        'run',
        'gateway',
        'load avg (1 min) at start',
        'deliveries/s',
        'p50 / p99 / max (ms)',
        'lost / dup',
        'gateway CPU s / 1,000 deliveries',
        'RSS / subscription (KB)',
        'gateway cores',
        'other work (cores)',
        'event loop delay p99 / max (ms)',
        'all subscriptions live after (ms)',
        'delivered / expected',
      ],
      rows,
    ),
    '',
    `Medians over ${olds.length} old and ${news.length} new runs:`,
    '',
    markdownTable(['figure', 'old', 'new', 'new ÷ old', 'better'], ratioRows),
  ].join('\n')
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2)
  const { old, runs, rest } = parseArgs(argv)
  const o = parseOptions(rest)
  if (o.gatewayCpus) reserveCpus(o.gatewayCpus)
  const layout = createLayout({ connections: o.connections, subscriptionsPerConnection: o.subscriptionsPerConnection, tenants: TENANTS, fanout: o.fanout })
  const trees: Tree[] = [
    { label: 'old', root: old, revision: revisionOf(old) },
    { label: 'new', root: ROOT, revision: revisionOf(ROOT) },
  ]
  const before = loadavg()
  const idle = measureCpu({})
  const started = performance.now()
  const results: RunResult[] = []
  for (let i = 0; i < runs * 2; i++) {
    const tree = trees[i % 2]
    const result = await runS1Once(tree, i + 1, o, layout)
    const f = figures(result, layout)
    log(
      `run ${i + 1} ${tree.label}: ${n(f.deliveriesPerSecond)} deliveries/s, p50 ${n(f.p50)} ms, p99 ${n(f.p99)} ms, lost ${f.lost}, dup ${f.duplicates}, ` +
        `${n(f.cpuPer1000)} gateway CPU s / 1,000 deliveries, ${n(f.rssPerSubscriptionKb)} KB RSS / subscription, other work ${n(f.otherCores, 2)} cores`,
    )
    results.push(result)
  }
  log(`machine busy ${n(idle().machineCores, 2)} cores on average over the whole comparison`)
  const text = render(results, o, layout, {
    command: `npm run bench:fanout:compare -- ${argv.join(' ')}`,
    before,
    after: loadavg(),
    trees,
    wallSeconds: (performance.now() - started) / 1000,
  })
  process.stdout.write(`${text}\n`)
  mkdirSync(join(ROOT, '.bench-out'), { recursive: true })
  writeFileSync(join(ROOT, '.bench-out/fanout-compare.md'), `${text}\n`)
  return results.some((r) => r.s1.tally.lost || r.s1.tally.duplicates) ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`bench:fanout:compare failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  },
)
