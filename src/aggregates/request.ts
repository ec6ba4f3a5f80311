import type { Document } from 'mongodb'
import { badUserInput } from '../errors.js'
import type { Model } from '../models/index.js'
import { compileChangeFilter, compileDocumentFilter } from '../streams/filters/compiler.js'
import type { AggregateField, AggregateFields } from './fields.js'
import type { AggregateRequest } from './registry.js'
import type { WindowSpec } from './window.js'

export const MAX_WINDOW_SECONDS = 7 * 24 * 3600
export const MAX_WINDOW_BUCKETS = 1000
export const MAX_THROTTLE_MS = 60_000
export const DEFAULT_THROTTLE_MS = 500

export interface AggregateArguments {
  readonly where?: unknown
  /** `<Model>GroupBy` values. */
  readonly groupBy?: readonly string[] | null
  readonly window?: { readonly size?: number | null; readonly slide?: number | null; readonly on?: string | null } | null
}

const isWholeSeconds = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value)

function windowOf(fields: AggregateFields, window: AggregateArguments['window']): WindowSpec | null {
  if (window == null) return null
  const size = window.size
  if (!isWholeSeconds(size) || size < 1 || size > MAX_WINDOW_SECONDS) {
    throw badUserInput(`window.size must be a whole number of seconds between 1 and ${MAX_WINDOW_SECONDS}`)
  }
  const slide = window.slide ?? size
  if (!isWholeSeconds(slide) || slide < 1 || slide > size || size % slide !== 0) {
    throw badUserInput('window.slide must be a whole number of seconds that divides window.size')
  }
  if (size / slide > MAX_WINDOW_BUCKETS) throw badUserInput(`window.size / window.slide must be at most ${MAX_WINDOW_BUCKETS}`)
  let timeField: string | null = null
  if (window.on != null) {
    const field = fields.time.find((f) => f.enumValue === window.on)
    if (!field) throw badUserInput(`window.on: ${JSON.stringify(window.on)} is not a date field of this model`)
    timeField = field.path
  }
  return { sizeSeconds: size, slideSeconds: slide, timeField }
}

/**
 * Checks a `<model>Aggregate` subscription's arguments and compiles them for `tenant`: the change filter that moves
 * the totals, the starting read, and what places a document. Throws BAD_USER_INPUT naming the argument.
 */
export function compileAggregate(model: Model, fields: AggregateFields, args: AggregateArguments, tenant: string): AggregateRequest {
  const groupBy: AggregateField[] = []
  for (const value of args.groupBy ?? []) {
    const field = fields.groupable.find((f) => f.enumValue === value)
    if (!field) throw badUserInput(`groupBy: ${JSON.stringify(value)} is not a field this model groups by`)
    if (!groupBy.includes(field)) groupBy.push(field)
  }
  const window = windowOf(fields, args.window)
  const where = args.where ?? undefined
  const filter = compileChangeFilter(model, where === undefined ? {} : { where }, tenant)
  const documentFilter: Document = compileDocumentFilter(model, undefined, where)
  const documentQuery: Document =
    model.tenantField === null ? documentFilter : { $and: [{ [model.tenantField]: { $eq: tenant } }, documentFilter] }
  return { filter, documentQuery, spec: { groupBy, numeric: fields.numeric, window } }
}

export function throttleOf(value: unknown): number {
  if (value == null) return DEFAULT_THROTTLE_MS
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_THROTTLE_MS) {
    throw badUserInput(`throttleMs must be a whole number between 0 and ${MAX_THROTTLE_MS}`)
  }
  return value
}
