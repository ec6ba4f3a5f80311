/**
 * `npx tsx bench/fanout/stall-report.ts <file> [--all] [--over MS]`: the gateway's long event-loop blocks and what
 * they were made of, from the output of a run with `--stall-probe --gateway-output <file>` (bench:fanout, or the
 * compare and curve tools, which start several gateways: one section each). For every block longer than MS (default
 * 50) in a measured phase (`--all`: at any time, warm-up and the benchmark's forced collections included): its
 * length, how long the main thread ran in it, how long it waited for a CPU (other processes' and its own threads'
 * turn), the CPU the gateway's other threads used in it, and the collector's pauses in it.
 */
import { readFileSync } from 'node:fs'
import { markdownTable } from '../lib/markdown.js'
import { formatNumber as n } from '../lib/stats.js'
import type { Stall } from './stall-probe.js'

function argument(argv: readonly string[], flag: string, fallback: number): number {
  const at = argv.indexOf(flag)
  if (at < 0) return fallback
  const value = Number(argv[at + 1])
  if (!Number.isFinite(value) || value < 0) throw new Error(`${flag} needs a number of milliseconds`)
  return value
}

const argv = process.argv.slice(2)
const file = argv[0]
if (!file || file.startsWith('--')) throw new Error('usage: npx tsx bench/fanout/stall-report.ts <file> [--all] [--over MS]')
const all = argv.includes('--all')
const overMs = argument(argv, '--over', 50)

const byProcess = new Map<string, Stall[]>()
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const match = /^stall-probe (\d+) (\{.*\})$/.exec(line)
  if (!match) continue
  const stall = JSON.parse(match[2]) as Stall
  const list = byProcess.get(match[1]) ?? []
  if (all || stall.phase % 2 === 1) list.push(stall)
  byProcess.set(match[1], list)
}
if (!byProcess.size) throw new Error(`no stall-probe lines in ${file} (was the run made with --stall-probe and --gateway-output?)`)

const lines: string[] = []
for (const [pid, stalls] of byProcess) {
  const over = stalls.filter((s) => s.gapMs > overMs)
  const ownOver = stalls.filter((s) => s.gapMs - s.waitMs > overMs)
  const longest = (values: number[]) => n(Math.max(...values))
  lines.push(
    stalls.length
      ? `gateway pid ${pid}, ${all ? 'whole run' : 'measured phases'}: ${over.length} blocks over ${n(overMs)} ms ` +
          `(longest ${longest(stalls.map((s) => s.gapMs))} ms); without the time its main thread waited for a CPU, ` +
          `${ownOver.length} (longest ${longest(stalls.map((s) => s.gapMs - s.waitMs))} ms)`
      : `gateway pid ${pid}, ${all ? 'whole run' : 'measured phases'}: no block over the probe's threshold (STALL_PROBE_MS, default 30 ms)`,
    '',
  )
  if (over.length) {
    lines.push(
      markdownTable(
        ['ended at (ms after start)', 'block (ms)', 'main thread running (ms)', 'waiting for a CPU (ms)', "the gateway's other threads' CPU (ms)", 'collector pauses (ms)', 'collections'],
        over.map((s) => [n(s.atMs), n(s.gapMs), n(s.runMs), n(s.waitMs), n(s.otherThreadsMs), n(s.gcMs), s.gcKinds.join(' ') || '—']),
      ),
      '',
    )
  }
}
process.stdout.write(`${lines.join('\n')}\n`)
