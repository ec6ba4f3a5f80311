/**
 * Loaded into the gateway's process for the fan-out benchmark (`--stall-probe`, which passes `node --import` this
 * file compiled): what each long event-loop block was made of. A 1 ms interval timer notes, at every firing, the
 * main thread's scheduler counters (`/proc/self/task/PID/schedstat`: time on a CPU, time runnable but waiting for
 * one) and the process's CPU time. A gap between two firings longer than `STALL_PROBE_MS` (default 30) is a stall;
 * for each, the probe records how much of it the main thread ran, how much it waited for a CPU behind other threads
 * and processes, how much CPU the process's other threads used meanwhile, and how much of it V8's collector paused
 * the main thread (`gc` performance entries). At exit it prints one `stall-probe PID {json}` line on stderr per
 * stall (`bench/fanout/stall-report.ts` reads them). The benchmark marks its measured phases with SIGUSR2 (see
 * `phase` below).
 *
 * The cost: a 1 ms timer, one `pread` of a /proc file and one `getrusage` per firing.
 */
import { closeSync, openSync, readSync } from 'node:fs'
import { PerformanceObserver, performance } from 'node:perf_hooks'

export interface Stall {
  /** SIGUSR2 signals received before it: the benchmark sends one at a measured phase's start and one at its end, so
   * an odd number means inside a measured phase. */
  readonly phase: number
  /** When the block ended, ms after the process started (`performance.now()`). */
  readonly atMs: number
  /** Time between the two timer firings around the block. */
  readonly gapMs: number
  /** Of the gap: the main thread on a CPU. */
  readonly runMs: number
  /** Of the gap: the main thread ready to run, waiting for a CPU. */
  readonly waitMs: number
  /** CPU time of the gateway's other threads (V8's collector helpers, libuv's pool) in the gap. */
  readonly otherThreadsMs: number
  /** Of the gap: V8's collector pausing the main thread (pauses that ended inside the gap). */
  readonly gcMs: number
  /** The collections among those pauses, by kind (`major`, `minor`, `incremental`, `weakcb`). */
  readonly gcKinds: readonly string[]
}

const THRESHOLD_MS = Number(process.env.STALL_PROBE_MS ?? 30)
const GC_KINDS: Record<number, string> = { 1: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb' }

let fd: number | undefined
try {
  fd = openSync(`/proc/self/task/${process.pid}/schedstat`, 'r')
} catch {
  // Not Linux: gaps and collections only.
}
const buffer = Buffer.alloc(128)
/** [ns on a CPU, ns waiting for one] of the main thread so far; NaN without /proc. */
function schedstat(): [number, number] {
  if (fd === undefined) return [Number.NaN, Number.NaN]
  const length = readSync(fd, buffer, 0, buffer.length, 0)
  const text = buffer.toString('latin1', 0, length)
  const space = text.indexOf(' ')
  return [Number(text.slice(0, space)), Number(text.slice(space + 1, text.indexOf(' ', space + 1)))]
}

/** CPU time of every thread of the process so far (ms). */
function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** Collector pauses as [end ms, duration ms, kind], the last few seconds' worth. */
const pauses: Array<[number, number, string]> = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = GC_KINDS[(entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other'
    pauses.push([entry.startTime + entry.duration, entry.duration, kind])
  }
  if (pauses.length > 4096) pauses.splice(0, pauses.length - 2048)
}).observe({ entryTypes: ['gc'] })

/** Stalls waiting for the collector's entries of their gap (delivered after the block, asynchronously). */
const pending: Array<{ phase: number; from: number; to: number; runMs: number; waitMs: number; otherThreadsMs: number }> = []
const stalls: Stall[] = []

function settle(upTo: number): void {
  while (pending.length && pending[0].to < upTo) {
    const { phase, from, to, runMs, waitMs, otherThreadsMs } = pending.shift()!
    let gcMs = 0
    const gcKinds: string[] = []
    for (const [end, duration, kind] of pauses) {
      if (end <= from || end > to + 1) continue
      gcMs += duration
      gcKinds.push(kind)
    }
    stalls.push({ phase, atMs: round(to), gapMs: round(to - from), runMs: round(runMs), waitMs: round(waitMs), otherThreadsMs: round(otherThreadsMs), gcMs: round(gcMs), gcKinds })
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100

let phase = 0
process.on('SIGUSR2', () => phase++)

let last = performance.now()
let [lastRun, lastWait] = schedstat()
let lastCpu = cpuMs()
const timer = setInterval(() => {
  const now = performance.now()
  const [run, wait] = schedstat()
  const cpu = cpuMs()
  if (now - last > THRESHOLD_MS) {
    const runMs = (run - lastRun) / 1e6
    pending.push({ phase, from: last, to: now, runMs, waitMs: (wait - lastWait) / 1e6, otherThreadsMs: Math.max(0, cpu - lastCpu - runMs) })
  }
  // A gap's collector entries arrive within a turn or two of it; a second is plenty.
  if (pending.length) settle(now - 1000)
  last = now
  lastRun = run
  lastWait = wait
  lastCpu = cpu
}, 1)
timer.unref()

process.on('exit', () => {
  settle(Infinity)
  for (const stall of stalls) process.stderr.write(`stall-probe ${process.pid} ${JSON.stringify(stall)}\n`)
  if (fd !== undefined) closeSync(fd)
})
