/**
 * CPU accounting from /proc (Linux): what a process, and the machine as a whole, used while something ran.
 * Elsewhere every figure is NaN.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus as machineCpus } from 'node:os'

let clockTicks: number | undefined
const ticksPerSecond = () => (clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100)

/** CPU time (seconds, all cores) the whole machine has spent busy so far; NaN where /proc is not available. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user).
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
    return (user + nice + system + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / ticksPerSecond()
  } catch {
    return Number.NaN
  }
}

/** CPU time (user + system, seconds) a process has used so far; NaN where /proc is not available. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond()
  } catch {
    return Number.NaN
  }
}

/**
 * Seconds a process's main thread has spent runnable but waiting for a CPU (the scheduler's run queue);
 * NaN where /proc/PID/schedstat is not available.
 */
export function runQueueWaitSeconds(pid: number): number {
  try {
    const [, waitingNs] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number)
    return waitingNs / 1e9
  } catch {
    return Number.NaN
  }
}

export interface CpuUse {
  readonly wallSeconds: number
  /** Average cores busy on the whole machine, every process included. */
  readonly machineCores: number
  /** Average cores each measured process used, by the label it was given. */
  readonly processCores: Readonly<Record<string, number>>
  /** Share of the time each process's main thread was ready to run but waited for a CPU. */
  readonly processWaiting: Readonly<Record<string, number>>
}

/** Starts measuring; the returned function reports the CPU used since. */
export function measureCpu(pids: Readonly<Record<string, number>>): () => CpuUse {
  const start = performance.now()
  const machine = machineBusySeconds()
  const before = Object.fromEntries(Object.entries(pids).map(([label, pid]) => [label, cpuSeconds(pid)]))
  const waitedBefore = Object.fromEntries(Object.entries(pids).map(([label, pid]) => [label, runQueueWaitSeconds(pid)]))
  return () => {
    const wallSeconds = (performance.now() - start) / 1000
    const processCores: Record<string, number> = {}
    const processWaiting: Record<string, number> = {}
    for (const [label, pid] of Object.entries(pids)) {
      processCores[label] = (cpuSeconds(pid) - before[label]) / wallSeconds
      processWaiting[label] = (runQueueWaitSeconds(pid) - waitedBefore[label]) / wallSeconds
    }
    return { wallSeconds, machineCores: (machineBusySeconds() - machine) / wallSeconds, processCores, processWaiting }
  }
}

/** Runs every thread of process `pid` on `cpus` only (Linux `taskset`); `mainThreadOnly`: its main thread only. */
export function pinProcess(pid: number, cpus: readonly number[], mainThreadOnly = false): void {
  execFileSync('taskset', [...(mainThreadOnly ? [] : ['--all-tasks']), '--cpu-list', '--pid', cpus.join(','), String(pid)], { stdio: 'ignore' })
}

/** The machine's CPUs not in `reserved`; throws when `reserved` names a CPU it lacks, or all of them. */
export function cpusBesides(reserved: readonly number[]): number[] {
  const count = machineCpus().length
  const outside = reserved.find((cpu) => cpu >= count)
  if (outside !== undefined) throw new Error(`CPU ${outside} does not exist here (CPUs 0–${count - 1})`)
  const rest = Array.from({ length: count }, (_, cpu) => cpu).filter((cpu) => !reserved.includes(cpu))
  if (!rest.length) throw new Error(`reserving CPUs ${reserved.join(',')} leaves none for the other processes`)
  return rest
}

/**
 * Moves this process to the CPUs not in `reserved`, so that what it starts from now on runs there too (children
 * inherit it); a thread later pinned to `reserved` then has those CPUs to itself.
 */
export function reserveCpus(reserved: readonly number[]): void {
  pinProcess(process.pid, cpusBesides(reserved))
}
