/** What command handlers see: the server's parts and the request's context. */
import type { Document, ObjectId } from 'bson'
import type { Oplog } from '../changes/oplog.js'
import type { ChangeStreamService, CommandContext, ServerState } from '../types.js'
import type { ConnectionInfo } from '../wire/connection.js'
import type { Storage } from '../storage/storage.js'
import type { Transactions } from '../transactions/sessions.js'
import type { CursorRegistry } from './cursors.js'
import type { Failpoints } from './failpoints.js'

export interface ServerParts {
  readonly state: ServerState
  readonly oplog: Oplog
  readonly storage: Storage
  readonly cursors: CursorRegistry
  readonly changeStreams: ChangeStreamService
  readonly failpoints: Failpoints
  readonly transactions: Transactions
  readonly electionId: ObjectId
  readonly startedAt: Date
  /** Aborted when the server stops: every wait ends. */
  readonly signal: AbortSignal
}

export interface RequestContext extends CommandContext {
  readonly connection: ConnectionInfo
  /** The command's name as sent (first key). */
  readonly name: string
  /** Size in bytes of the largest document in the request message. */
  readonly largestDocument: number
}

export type Handler = (cmd: Document, req: RequestContext, server: ServerParts) => Promise<Document> | Document

export type HandlerTable = Readonly<Record<string, Handler>>
