/**
 * Oplog entries as change events: which entries a stream sees, which end it, and the events themselves with
 * exactly MongoDB 7.0's fields in MongoDB's order (see the server's change_stream_event_transform.cpp).
 */
import type { Document } from 'bson'
import type { Namespace, OplogEntry } from '../types.js'
import { noMatchingDocument } from './errors.js'
import type { BeforeChangeMode, FullDocumentMode, StreamScope } from './spec.js'
import { eventPoint, tokenDocument } from './tokens.js'
import { describeUpdate, type UpdateDescription } from './update-description.js'

export interface StorageLookup {
  findByKey(ns: Namespace, documentKey: Document): Document | undefined
}

const INTERNAL_DBS = new Set(['admin', 'config', 'local'])
const isSystem = (coll: string) => coll.startsWith('system.')

function inScope(ns: Namespace, scope: StreamScope): boolean {
  switch (scope.kind) {
    case 'collection':
      return ns.db === scope.db && ns.coll === scope.coll
    case 'database':
      return ns.db === scope.db && !isSystem(ns.coll)
    case 'cluster':
      return !INTERNAL_DBS.has(ns.db) && !isSystem(ns.coll)
  }
}

/** Whether a stream with this scope reports the entry (before its own pipeline stages). */
export function isVisible(entry: OplogEntry, scope: StreamScope): boolean {
  switch (entry.op) {
    case 'dropDatabase':
      // Collection streams only see the drop of their collection that precedes it.
      if (scope.kind === 'collection') return false
      return scope.kind === 'database' ? entry.ns.db === scope.db : !INTERNAL_DBS.has(entry.ns.db)
    case 'rename': {
      // The command is logged on the source database: streams of the target database alone never see it.
      const onWatchedDb = scope.kind === 'cluster' ? !INTERNAL_DBS.has(entry.ns.db) : entry.ns.db === scope.db
      return onWatchedDb && (inScope(entry.ns, scope) || inScope(entry.to, scope))
    }
    default:
      return inScope(entry.ns, scope)
  }
}

/** Whether the entry, once reported, ends the stream with an `invalidate` event. */
export function invalidates(entry: OplogEntry, scope: StreamScope): boolean {
  switch (scope.kind) {
    case 'collection':
      return entry.op === 'drop' || entry.op === 'rename'
    case 'database':
      return entry.op === 'dropDatabase'
    case 'cluster':
      return false
  }
}

export interface EventOptions {
  /** Adds collectionUUID, operationDescription and disambiguatedPaths (catalog events are filtered by the cursor). */
  readonly showExpandedEvents: boolean
  readonly fullDocument: FullDocumentMode
  readonly fullDocumentBeforeChange: BeforeChangeMode
  readonly storage: StorageLookup
}

export type ImagedEntry = OplogEntry & { readonly before: Document; readonly after: Document }

const nsDoc = (ns: Namespace): Document => ({ db: ns.db, coll: ns.coll })

function notFoundDetail(entry: OplogEntry): string {
  const coll = 'coll' in entry.ns ? `, coll: "${entry.ns.coll}"` : ''
  const time = `Timestamp(${entry.ts.t}, ${entry.ts.i})`
  return `{operationType: "${entry.op}", ns: {db: "${entry.ns.db}"${coll}}, clusterTime: ${time}}`
}

function preImage(entry: OplogEntry & { before: Document }, mode: BeforeChangeMode): Document | null {
  if (entry.imagesRecorded) return entry.before
  if (mode === 'required') {
    throw noMatchingDocument(
      'Change stream was configured to require a pre-image for all update, delete and replace events, ' +
        `but the pre-image was not found for event: ${notFoundDetail(entry)}`,
    )
  }
  return null
}

type UpdateEntry = OplogEntry & { readonly ns: Namespace; readonly documentKey: Document; readonly after: Document }

function postImage(entry: UpdateEntry, options: EventOptions): Document | null {
  if (options.fullDocument === 'updateLookup') return options.storage.findByKey(entry.ns, entry.documentKey) ?? null
  if (entry.imagesRecorded) return entry.after
  if (options.fullDocument === 'required') {
    throw noMatchingDocument(
      'Change stream was configured to require a post-image for all update events, ' +
        `but the post-image was not found for event: ${notFoundDetail(entry)}`,
    )
  }
  return null
}

/** Catalog operations only streams opened with `showExpandedEvents` report. */
const EXPANDED_ONLY = new Set(['create', 'createIndexes', 'dropIndexes', 'modify'])

export const isExpandedOnly = (entry: OplogEntry) => EXPANDED_ONLY.has(entry.op)

const ID_INDEX = { v: 2, key: { _id: 1 }, name: '_id_' }

/**
 * The change event for a visible entry; images are looked up now, as the server does when it reads them.
 * Fields come in the order of the server's ChangeStreamDefaultEventTransformation: [to], [txnNumber, lsid],
 * _id, operationType, clusterTime, [collectionUUID], wallTime, fullDocument, ns, documentKey,
 * [operationDescription], updateDescription, [stateBeforeChange], then fullDocumentBeforeChange.
 */
export function buildEvent(
  entry: OplogEntry,
  options: EventOptions,
  describe: (entry: ImagedEntry) => UpdateDescription = (e) => describeUpdate(e.before, e.after),
): Document {
  const expanded = options.showExpandedEvents
  const head = (doc: Document = {}): Document => {
    if (entry.txn) {
      doc.txnNumber = entry.txn.txnNumber
      doc.lsid = entry.txn.lsid
    }
    doc._id = tokenDocument(eventPoint(entry.ts, entry.seq))
    doc.operationType = entry.op
    doc.clusterTime = entry.ts
    if (expanded && entry.uuid) doc.collectionUUID = entry.uuid
    doc.wallTime = entry.wallTime
    return doc
  }
  const withPreImage = entry.op !== 'insert' && options.fullDocumentBeforeChange !== 'off'
  switch (entry.op) {
    case 'insert': {
      const event = head()
      event.fullDocument = entry.after
      event.ns = nsDoc(entry.ns)
      event.documentKey = entry.documentKey
      return event
    }
    case 'update': {
      const event = head()
      // The pre-image is looked up before the post-image, so a missing one is what a 'required' stream reports.
      const before = withPreImage ? preImage(entry, options.fullDocumentBeforeChange) : undefined
      if (options.fullDocument !== 'default') event.fullDocument = postImage(entry, options)
      event.ns = nsDoc(entry.ns)
      event.documentKey = entry.documentKey
      const { disambiguatedPaths, ...description } = describe(entry)
      event.updateDescription = expanded ? { ...description, disambiguatedPaths } : description
      if (before !== undefined) event.fullDocumentBeforeChange = before
      return event
    }
    case 'replace':
    case 'delete': {
      const event = head()
      if (entry.op === 'replace') event.fullDocument = entry.after
      event.ns = nsDoc(entry.ns)
      event.documentKey = entry.documentKey
      if (withPreImage) event.fullDocumentBeforeChange = preImage(entry, options.fullDocumentBeforeChange)
      return event
    }
    case 'drop': {
      const event = head()
      event.ns = nsDoc(entry.ns)
      return event
    }
    case 'rename': {
      // The server adds `to` before anything else, so it comes first.
      const event = head({ to: nsDoc(entry.to) })
      event.ns = nsDoc(entry.ns)
      if (expanded) event.operationDescription = { to: nsDoc(entry.to) }
      return event
    }
    case 'dropDatabase': {
      const event = head()
      event.ns = { db: entry.ns.db }
      return event
    }
    case 'create': {
      const event = head()
      event.ns = nsDoc(entry.ns)
      event.operationDescription = { ...entry.options, idIndex: ID_INDEX }
      return event
    }
    case 'createIndexes':
    case 'dropIndexes': {
      const event = head()
      event.ns = nsDoc(entry.ns)
      event.operationDescription = { indexes: entry.indexes }
      return event
    }
    case 'modify': {
      const event = head()
      event.ns = nsDoc(entry.ns)
      event.operationDescription = entry.description
      event.stateBeforeChange = entry.stateBeforeChange
      return event
    }
  }
}

/** The `invalidate` that follows an invalidating entry: same position, flagged so it sorts after it. */
export function buildInvalidate(entry: OplogEntry): Document {
  return {
    _id: tokenDocument(eventPoint(entry.ts, entry.seq, true)),
    operationType: 'invalidate',
    clusterTime: entry.ts,
    wallTime: entry.wallTime,
  }
}
