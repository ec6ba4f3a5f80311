/**
 * Change streams for the embedded server: `$changeStream` aggregations become server cursors that read the oplog.
 */
import type { Document, Long, UUID } from 'bson'
import type { CommandContext, CursorBatch, Namespace, ServerCursor } from '../types.js'
import { MongoCommandError } from '../types.js'
import type { Oplog } from './oplog.js'

export interface StorageView {
  collectionInfo(ns: Namespace): { uuid: UUID; changeStreamPreAndPostImages: boolean } | undefined
  findByKey(ns: Namespace, documentKey: Document): Document | undefined
}

export interface ChangeStreamService {
  open(cmd: Document, ctx: CommandContext, cursorId: Long): Promise<{ cursor: ServerCursor; firstBatch: CursorBatch }>
  stepDown(): void
  stop(): void
}

export interface ChangeStreamDeps {
  readonly oplog: Oplog
  readonly storage: StorageView
}

export function createChangeStreams(_deps: ChangeStreamDeps): ChangeStreamService {
  return {
    async open() {
      throw new MongoCommandError(115, 'CommandNotSupported', 'change streams are not available yet')
    },
    stepDown() {},
    stop() {},
  }
}
