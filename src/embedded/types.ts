/**
 * Contracts shared by the embedded server's parts: the wire/commands/storage side writes oplog entries and
 * dispatches commands; the changes/ side turns oplog entries into change stream cursors.
 */
import type { Document, Long, Timestamp, UUID } from 'bson'

export interface Namespace {
  readonly db: string
  readonly coll: string
}

/** One committed write, as storage hands it to the oplog. Images are full documents (deep copies). */
export type OplogOp =
  | { readonly op: 'insert'; readonly ns: Namespace; readonly documentKey: Document; readonly after: Document }
  | {
      readonly op: 'update' | 'replace'
      readonly ns: Namespace
      readonly documentKey: Document
      readonly before: Document
      readonly after: Document
    }
  | { readonly op: 'delete'; readonly ns: Namespace; readonly documentKey: Document; readonly before: Document }
  | { readonly op: 'drop'; readonly ns: Namespace }
  | { readonly op: 'rename'; readonly ns: Namespace; readonly to: Namespace }
  | { readonly op: 'dropDatabase'; readonly ns: { readonly db: string } }
  | CatalogOp

/** Catalog changes that only streams with `showExpandedEvents` report. */
export type CatalogOp =
  | { readonly op: 'create'; readonly ns: Namespace; readonly options: Document }
  | { readonly op: 'createIndexes' | 'dropIndexes'; readonly ns: Namespace; readonly indexes: Document[] }
  | { readonly op: 'modify'; readonly ns: Namespace; readonly description: Document; readonly stateBeforeChange: Document }

export type OplogEntry = OplogOp & {
  /** UUID of the collection written to, when the write had one (every op but dropDatabase). */
  readonly uuid?: UUID
  /** Cluster time of the commit; strictly increasing over the whole oplog. */
  readonly ts: Timestamp
  readonly wallTime: Date
  /** Position in the oplog, strictly increasing; never reused. */
  readonly seq: number
  /** Whether the collection recorded pre- and post-images when the write committed. */
  readonly imagesRecorded: boolean
  /** Set on the writes of a multi-document transaction: they share the commit's `ts`, in statement order. */
  readonly txn?: TransactionInfo
}

/** The session and transaction number a transaction's writes carry into their change events. */
export interface TransactionInfo {
  readonly lsid: Document
  readonly txnNumber: Long
}

/** What a running server exposes to command handlers. */
export interface ServerState {
  readonly host: string
  readonly port: number
  readonly setName: string
}

export interface ConnectionState {
  readonly id: number
  readonly remoteAddress: string
}

export interface CommandContext {
  /** `$db` of the request. */
  readonly db: string
  readonly connection: ConnectionState
}

/** A server-side cursor (find, aggregate, change stream); `getMore` drives it. */
export interface ServerCursor {
  readonly id: Long
  readonly ns: string
  /** True for change stream cursors (their errors get change stream labels). */
  readonly changeStream?: boolean
  /** Next batch; a tailable/awaitData cursor may wait up to maxTimeMS for data. */
  getMore(batchSize: number | undefined, maxTimeMS: number | undefined): Promise<CursorBatch>
  close(): void
}

export interface CursorBatch {
  readonly docs: Document[]
  /** Change streams only. */
  readonly postBatchResumeToken?: Document
  /** True once the cursor is exhausted (its id becomes 0 in the reply). */
  readonly exhausted: boolean
}

/** MongoDB error as raised by a command: code, codeName and labels land in the reply as MongoDB sends them. */
export class MongoCommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
    readonly errorLabels: readonly string[] = [],
  ) {
    super(message)
    this.name = 'MongoCommandError'
  }
}

/** What change streams need from storage. */
export interface StorageView {
  collectionInfo(ns: Namespace): { uuid: UUID; changeStreamPreAndPostImages: boolean } | undefined
  /** Current version of a document by its documentKey (for fullDocument: 'updateLookup'), deep copy. */
  findByKey(ns: Namespace, documentKey: Document): Document | undefined
}

/** Change stream side, plugged into aggregate/getMore by the command layer. */
export interface ChangeStreamService {
  /** `aggregate` whose pipeline starts with `$changeStream`: validate, open, return cursor + first batch. */
  open(cmd: Document, ctx: CommandContext, cursorId: Long): Promise<{ cursor: ServerCursor; firstBatch: CursorBatch }>
  /** Primary step-down: fails pending and next getMores of open change streams with a resumable error. */
  stepDown(): void
  stop(): void
}
