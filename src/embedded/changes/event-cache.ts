/**
 * Change events built once per oplog entry and image options, for every cursor that reads the entry.
 */
import { calculateObjectSize, type Document } from 'bson'
import type { OplogEntry } from '../types.js'
import { shareEncoding } from '../wire/shared-bson.js'
import { buildEvent, type EventOptions, type ImagedEntry } from './events.js'
import { describeUpdate, type UpdateDescription } from './update-description.js'

export interface EventCache {
  /** The event for a visible entry; raises MongoDB's error when a required image is missing. */
  event(entry: OplogEntry, options: EventOptions): BuiltEvent
}

export interface BuiltEvent {
  readonly doc: Document
  /** BSON size of `doc`. */
  readonly size: number
}

/**
 * Builds events once per oplog entry and image options, for every cursor that reads the entry: all streams
 * that see an entry get the same event (documents are shared and never written to) and the same BSON bytes
 * (see wire/shared-bson.ts). updateLookup events are built per read, since they show the document as it is at
 * that moment.
 */
export function createEventCache(): EventCache {
  const descriptions = new WeakMap<OplogEntry, UpdateDescription>()
  const built = new WeakMap<OplogEntry, Map<string, BuiltEvent>>()
  // A cursor passes the same options object for every entry it reads: its key is built once.
  const keys = new WeakMap<EventOptions, string>()
  const describe = (entry: ImagedEntry) => {
    let description = descriptions.get(entry)
    if (!description) {
      description = describeUpdate(entry.before, entry.after)
      descriptions.set(entry, description)
    }
    return description
  }
  return {
    event(entry: OplogEntry, options: EventOptions): BuiltEvent {
      if (options.fullDocument === 'updateLookup' && entry.op === 'update') {
        const doc = buildEvent(entry, options, describe)
        return { doc, size: calculateObjectSize(doc) }
      }
      let key = keys.get(options)
      if (key === undefined) {
        key = `${options.fullDocument}/${options.fullDocumentBeforeChange}/${options.showExpandedEvents}`
        keys.set(options, key)
      }
      let byOptions = built.get(entry)
      if (!byOptions) {
        byOptions = new Map()
        built.set(entry, byOptions)
      }
      let event = byOptions.get(key)
      if (!event) {
        const doc = buildEvent(entry, options, describe)
        // Serialized here once; every getMore reply that returns the event copies these bytes.
        event = { doc, size: shareEncoding(doc).length }
        byOptions.set(key, event)
      }
      return event
    },
  }
}
