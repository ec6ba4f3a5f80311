import { EJSON } from 'bson'

/** A MongoDB value as relaxed Extended JSON: numbers plain, dates and ObjectIds as `$date`/`$oid`. */
export function toRelaxed(value: unknown): unknown {
  if (value === null || value === undefined) return null
  return EJSON.serialize(value as Parameters<typeof EJSON.serialize>[0], { relaxed: true })
}
