/**
 * One group's totals within one bucket, kept exact under additions and removals: a count, and per numeric field
 * the number of values, a compensated sum (Neumaier: removals do not accumulate rounding error into it) and a
 * multiset of values for min and max (a removal can take away the current minimum).
 */
export class GroupTotals {
  count = 0
  private readonly counts: number[]
  private readonly sums: number[]
  private readonly compensations: number[]
  private readonly values: Map<number, number>[]
  private readonly extremes: ({ readonly min: number; readonly max: number } | null | undefined)[]

  constructor(
    readonly keyValues: readonly unknown[],
    numericFields: number,
  ) {
    this.counts = new Array<number>(numericFields).fill(0)
    this.sums = new Array<number>(numericFields).fill(0)
    this.compensations = new Array<number>(numericFields).fill(0)
    this.values = Array.from({ length: numericFields }, () => new Map<number, number>())
    this.extremes = new Array<null | undefined>(numericFields).fill(null)
  }

  /** Adds (`sign` 1) or removes (`sign` -1) one document's numbers (null: the document has no number there). */
  apply(numbers: readonly (number | null)[], sign: 1 | -1): void {
    this.count += sign
    for (let n = 0; n < numbers.length; n++) {
      const value = numbers[n]
      if (value === null) continue
      this.counts[n] += sign
      this.addToSum(n, sign * value)
      const held = (this.values[n].get(value) ?? 0) + sign
      if (held > 0) this.values[n].set(value, held)
      else this.values[n].delete(value)
      this.extremes[n] = undefined
      if (this.counts[n] === 0) {
        this.sums[n] = 0
        this.compensations[n] = 0
      }
    }
  }

  valueCount(n: number): number {
    return this.counts[n]
  }

  sum(n: number): number {
    return this.sums[n] + this.compensations[n]
  }

  /** Smallest and largest value of field `n`; null without values. Computed on demand, cached until a change. */
  extremesOf(n: number): { readonly min: number; readonly max: number } | null {
    let cached = this.extremes[n]
    if (cached === undefined) {
      let min = Infinity
      let max = -Infinity
      for (const value of this.values[n].keys()) {
        if (value < min) min = value
        if (value > max) max = value
      }
      cached = this.values[n].size === 0 ? null : { min, max }
      this.extremes[n] = cached
    }
    return cached
  }

  private addToSum(n: number, value: number): void {
    const sum = this.sums[n]
    const total = sum + value
    this.compensations[n] += Math.abs(sum) >= Math.abs(value) ? sum - total + value : value - total + sum
    this.sums[n] = total
  }
}
