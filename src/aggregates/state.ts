import { GroupTotals } from './accumulators.js'

/** One document's part in an aggregate: which bucket and group it falls in, and its numbers. */
export interface Contribution {
  /** Start of its window bucket in epoch seconds; 0 for an aggregate without window. */
  readonly bucket: number
  /** Canonical form of `keyValues`. */
  readonly key: string
  readonly keyValues: readonly unknown[]
  /** One per numeric field of the model, null where the document holds no number. */
  readonly numbers: readonly (number | null)[]
}

/** A group's value over the buckets of a window (or all time). */
export interface GroupValue {
  readonly keyValues: readonly unknown[]
  readonly count: number
  readonly sum: readonly number[]
  readonly avg: readonly (number | null)[]
  readonly min: readonly (number | null)[]
  readonly max: readonly (number | null)[]
}

export class TooManyGroupsError extends Error {
  constructor(readonly limit: number) {
    super(`more than ${limit} groups`)
  }
}

/**
 * The totals of one aggregate: per bucket, per group. Buckets before `prunedBefore` are gone for good, and
 * contributions to them are ignored both ways, so adding and removing stay symmetric across a prune.
 */
export class AggregateState {
  private readonly buckets = new Map<number, Map<string, GroupTotals>>()
  /** Buckets holding each group: the number of distinct groups is bounded by `maxGroups`. */
  private readonly groupBuckets = new Map<string, number>()
  private prunedBefore = -Infinity

  constructor(
    private readonly numericFields: number,
    private readonly maxGroups: number,
  ) {}

  get groups(): number {
    return this.groupBuckets.size
  }

  add(contribution: Contribution): void {
    this.apply(contribution, 1)
  }

  remove(contribution: Contribution): void {
    this.apply(contribution, -1)
  }

  /** Drops every bucket that starts before `bucket`. Returns whether anything was dropped. */
  prune(bucket: number): boolean {
    if (bucket <= this.prunedBefore) return false
    this.prunedBefore = bucket
    let dropped = false
    for (const [start, groups] of this.buckets) {
      if (start >= bucket) continue
      for (const key of groups.keys()) this.releaseGroup(key)
      this.buckets.delete(start)
      dropped = true
    }
    return dropped
  }

  /** Whether a bucket in `[start, end)` holds anything: a window moving over it changes the value. */
  holdsBetween(start: number, end: number): boolean {
    for (const bucket of this.buckets.keys()) if (bucket >= start && bucket < end) return true
    return false
  }

  /** The groups over buckets `[start, end)` (all of them when omitted), by canonical key. */
  values(start = -Infinity, end = Infinity): GroupValue[] {
    const merged = new Map<string, GroupTotals[]>()
    for (const [bucket, groups] of this.buckets) {
      if (bucket < start || bucket >= end) continue
      for (const [key, totals] of groups) {
        const list = merged.get(key)
        if (list) list.push(totals)
        else merged.set(key, [totals])
      }
    }
    const keys = [...merged.keys()].sort()
    return keys.map((key) => this.merge(merged.get(key)!))
  }

  private merge(parts: readonly GroupTotals[]): GroupValue {
    const fields = Array.from({ length: this.numericFields }, (_, n) => n)
    let count = 0
    for (const part of parts) count += part.count
    const sum = fields.map((n) => {
      let total = 0
      let compensation = 0
      for (const part of parts) {
        const value = part.sum(n)
        const next = total + value
        compensation += Math.abs(total) >= Math.abs(value) ? total - next + value : value - next + total
        total = next
      }
      return total + compensation
    })
    const counts = fields.map((n) => parts.reduce((acc, part) => acc + part.valueCount(n), 0))
    const extremes = fields.map((n) => {
      let min: number | null = null
      let max: number | null = null
      for (const part of parts) {
        const e = part.extremesOf(n)
        if (!e) continue
        if (min === null || e.min < min) min = e.min
        if (max === null || e.max > max) max = e.max
      }
      return { min, max }
    })
    return {
      keyValues: parts[0].keyValues,
      count,
      sum,
      avg: fields.map((n) => (counts[n] === 0 ? null : sum[n] / counts[n])),
      min: extremes.map((e) => e.min),
      max: extremes.map((e) => e.max),
    }
  }

  private apply(contribution: Contribution, sign: 1 | -1): void {
    if (contribution.bucket < this.prunedBefore) return
    let groups = this.buckets.get(contribution.bucket)
    if (!groups) this.buckets.set(contribution.bucket, (groups = new Map()))
    let totals = groups.get(contribution.key)
    if (!totals) {
      const held = this.groupBuckets.get(contribution.key) ?? 0
      if (held === 0 && this.groupBuckets.size >= this.maxGroups) throw new TooManyGroupsError(this.maxGroups)
      this.groupBuckets.set(contribution.key, held + 1)
      totals = new GroupTotals(contribution.keyValues, this.numericFields)
      groups.set(contribution.key, totals)
    }
    totals.apply(contribution.numbers, sign)
    if (totals.count === 0) {
      groups.delete(contribution.key)
      this.releaseGroup(contribution.key)
      if (groups.size === 0) this.buckets.delete(contribution.bucket)
    }
  }

  private releaseGroup(key: string): void {
    const held = (this.groupBuckets.get(key) ?? 1) - 1
    if (held > 0) this.groupBuckets.set(key, held)
    else this.groupBuckets.delete(key)
  }
}
