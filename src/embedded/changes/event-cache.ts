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
  // A cursor passes the same options object for every entry it reads: its key is built once.
  const keys = new WeakMap<EventOptions, string>()
  const describe = (entry: ImagedEntry) => {
    const held = entry as ImagedEntry & Memo
    return (held[DESCRIPTION] ?? hide(held, DESCRIPTION, describeUpdate(entry.before, entry.after)))
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
      const held = entry as OplogEntry & Memo
      const byOptions = (held[BUILT] ?? hide(held, BUILT, new Map<string, BuiltEvent>()))
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

/**
 * What an oplog entry's readers built from it, kept on the entry (symbols, not enumerable) for as long as the oplog
 * keeps the entry. Not process-wide WeakMaps: with the oplog's up to 100,000 live keys, their inserts and the
 * garbage collector's ephemeron work cost more than building the events.
 */
const DESCRIPTION: unique symbol = Symbol('changegate.embedded.updateDescription')
const BUILT: unique symbol = Symbol('changegate.embedded.builtEvents')
interface Memo {
  [DESCRIPTION]?: UpdateDescription
  [BUILT]?: Map<string, BuiltEvent>
}

function hide<K extends keyof Memo>(entry: Memo, key: K, value: NonNullable<Memo[K]>): NonNullable<Memo[K]> {
  Object.defineProperty(entry, key, { value })
  return value
}
