import type { Document } from 'mongodb'
import { idString } from '../mongo/ids.js'
import { valueAt } from '../streams/filters/transitions.js'
import type { AggregateField } from './fields.js'
import type { Contribution } from './state.js'
import { bucketOf, type WindowSpec } from './window.js'

/** What places a document in an aggregate: its group fields, its numbers, its window. */
export interface ContributionSpec {
  readonly groupBy: readonly AggregateField[]
  readonly numeric: readonly AggregateField[]
  readonly window: WindowSpec | null
}

/** A number as MongoDB's `$sum` sees it: numeric BSON values count, anything else does not. */
export function numberOf(value: unknown): number | null {
  if (typeof value === 'number') return Number.isNaN(value) ? null : value
  if (typeof value === 'bigint') return Number(value)
  if (value !== null && typeof value === 'object') {
    const type = (value as { _bsontype?: string })._bsontype
    if (type === 'Int32' || type === 'Double') return Number((value as { value: number }).value)
    if (type === 'Long' || type === 'Decimal128') return Number(String(value))
  }
  return null
}

/** A group key's part as MongoDB's `$group` compares it: missing and null are one group, ids by their hex. */
function keyValueOf(value: unknown): unknown {
  if (value === undefined || value === null) return null
  if (typeof value === 'string' || typeof value === 'boolean') return value
  const number = numberOf(value)
  if (number !== null) return number
  return idString(value)
}

/**
 * `doc`'s contribution, placed in the bucket of `epochSeconds` (the commit time of its last change) or of its window
 * field; null when the window field holds no date (such a document is in no window).
 */
export function contributionOf(spec: ContributionSpec, doc: Document, epochSeconds: number): Contribution | null {
  let bucket = 0
  if (spec.window) {
    let seconds = epochSeconds
    if (spec.window.timeField !== null) {
      const time = valueAt(doc, spec.window.timeField)
      if (!(time instanceof Date) || Number.isNaN(time.getTime())) return null
      seconds = Math.floor(time.getTime() / 1000)
    }
    bucket = bucketOf(spec.window, seconds)
  }
  const keyValues = spec.groupBy.map((f) => keyValueOf(valueAt(doc, f.path)))
  return {
    bucket,
    key: JSON.stringify(keyValues),
    keyValues,
    numbers: spec.numeric.map((f) => numberOf(valueAt(doc, f.path))),
  }
}
