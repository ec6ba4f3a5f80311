/**
 * `npx tsx bench/fanout/gc-trace.ts <file> [--from-ms A] [--to-ms B]`: what V8's collector did in the gateway, from
 * the output of a run with `--gateway-node-flags "--trace-gc-nvp" --gateway-output <file>` (bench:fanout, or the
 * compare and curve tools). For each gateway process in the file (the compare and curve tools start several), between
 * A and B ms after it started: the young-generation collections and the bytes they promoted to the old generation
 * per second (what makes full collections come), and every full (mark-compact) collection with its final pause, the
 * main thread's incremental marking and the background threads' marking.
 */
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { markdownTable } from '../lib/markdown.js'
import { formatNumber as n } from '../lib/stats.js'

export interface GcTrace {
  readonly scavenges: number
  readonly seconds: number
  readonly promotedMbPerS: number
  readonly markCompacts: ReadonlyArray<{ atMs: number; pauseMs: number; incrementalMs: number; backgroundMarkMs: number; beforeMb: number; afterMb: number }>
}

/** Parses one process's `--trace-gc-nvp` lines (`[pid:isolate]  12345 ms: pause=… gc=s …`) between two times. */
export function readGcTrace(text: string, pid: string, fromMs = 0, toMs = Infinity): GcTrace {
  let scavenges = 0
  let promoted = 0
  let first: number | undefined
  let last: number | undefined
  const markCompacts: GcTrace['markCompacts'][number][] = []
  for (const line of text.split('\n')) {
    const at = /^\[(\d+):\w+\]\s+(\d+) ms: (.*)$/.exec(line)
    if (!at || at[1] !== pid) continue
    const atMs = Number(at[2])
    if (atMs < fromMs || atMs > toMs) continue
    const fields = new Map(at[3].split(' ').map((pair) => pair.split('=') as [string, string]))
    const num = (key: string) => Number(fields.get(key) ?? 0)
    const kind = fields.get('gc')
    if (kind === 's') {
      scavenges++
      promoted += num('promoted')
      first ??= atMs
      last = atMs
    } else if (kind === 'mc') {
      markCompacts.push({
        atMs,
        pauseMs: num('pause'),
        incrementalMs: num('incremental'),
        backgroundMarkMs: num('background.mark'),
        beforeMb: num('total_size_before') / 2 ** 20,
        afterMb: num('total_size_after') / 2 ** 20,
      })
    }
  }
  const seconds = first !== undefined && last !== undefined ? (last - first) / 1000 : 0
  return { scavenges, seconds, promotedMbPerS: seconds > 0 ? promoted / 2 ** 20 / seconds : 0, markCompacts }
}

function main(): void {
  const args = process.argv.slice(2)
  const file = args.find((a) => !a.startsWith('--'))
  const flag = (name: string) => {
    const i = args.indexOf(name)
    return i >= 0 ? Number(args[i + 1]) : undefined
  }
  if (!file) throw new Error('usage: gc-trace.ts <file> [--from-ms A] [--to-ms B]')
  const text = readFileSync(file, 'utf8')
  const pids = [...new Set([...text.matchAll(/^\[(\d+):\w+\]\s+\d+ ms: /gm)].map((m) => m[1]))]
  for (const pid of pids) {
    const trace = readGcTrace(text, pid, flag('--from-ms'), flag('--to-ms'))
    console.log(`process ${pid}: ${trace.scavenges} young-generation collections over ${n(trace.seconds)} s, ${n(trace.promotedMbPerS)} MB/s promoted`)
    console.log()
    console.log(
      markdownTable(
        ['at (ms)', 'final pause (ms)', 'main-thread incremental marking (ms)', 'background marking (ms)', 'heap before → after (MB)'],
        trace.markCompacts.map((m) => [n(m.atMs), n(m.pauseMs), n(m.incrementalMs), n(m.backgroundMarkMs), `${n(m.beforeMb)} → ${n(m.afterMb)}`]),
      ),
    )
    console.log()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) main()
