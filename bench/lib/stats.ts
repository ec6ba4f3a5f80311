/**
 * Summaries of latency samples and throughput figures, and their formatting.
 */

export interface LatencySummary {
  readonly count: number
  readonly mean: number
  readonly p50: number
  readonly p99: number
  readonly max: number
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

/** Summarizes the first `count` samples (all by default); sorts them in place. */
export function summarize(samples: Float64Array, count = samples.length): LatencySummary {
  const used = samples.subarray(0, count).sort()
  let sum = 0
  for (let i = 0; i < used.length; i++) sum += used[i]
  return {
    count: used.length,
    mean: used.length ? sum / used.length : Number.NaN,
    p50: percentile(used, 50),
    p99: percentile(used, 99),
    max: used.length ? used[used.length - 1] : Number.NaN,
  }
}

export interface Samples {
  add(value: number): void
  readonly length: number
  summarize(): LatencySummary
}

/** A growable buffer of samples that never boxes numbers. */
export function createSamples(initialCapacity = 1024): Samples {
  let data = new Float64Array(Math.max(16, initialCapacity))
  let length = 0
  return {
    add(value: number): void {
      if (length === data.length) {
        const next = new Float64Array(data.length * 2)
        next.set(data)
        data = next
      }
      data[length++] = value
    },
    get length() {
      return length
    },
    summarize: () => summarize(data, length),
  }
}

/**
 * Wall-clock milliseconds with sub-millisecond resolution: the process's start time plus a monotonic clock, so
 * processes on one machine can subtract each other's stamps.
 */
export const wallNow = (): number => performance.timeOrigin + performance.now()

/** 12345.6 -> "12,346"; small values keep a few significant digits. */
export function formatNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  if (abs >= 100) return Math.round(value).toLocaleString('en-US')
  if (abs === 0) return '0'
  return value.toPrecision(digits).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '')
}

/** "×0.42" style ratio of value to baseline. */
export function formatRatio(value: number, baseline: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(baseline) || baseline === 0) return '—'
  return `${formatNumber(value / baseline)}×`
}
