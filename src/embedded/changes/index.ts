/**
 * Change streams for the embedded server: `$changeStream` aggregations become server cursors that read the
 * oplog, with MongoDB 7.0's options, events, resume tokens and errors.
 *
 * The aggregate command handler calls `open` when `pipeline[0].$changeStream` exists, replies with the first
 * batch, and routes `getMore` / `killCursors` to the returned cursor.
 *
 * Errors are MongoDB's: 50865 (resumeAfter with startAfter), 40674 (a token with startAtOperationTime), 260
 * (resumeAfter an invalidate), 9 / 40647 / 40649 (malformed tokens), 280 (token not found, or `_id` changed by
 * a stage), 286 (history lost; labelled NonResumableChangeStreamError), 47 (a required image is missing),
 * 20 (a stage change streams do not allow), 11602 on step-down (labelled ResumableChangeStreamError).
 */
import type { Document, Long } from 'bson'
import type { ChangeStreamService, CommandContext, CursorBatch, ServerCursor, StorageView } from '../types.js'
import { locationError, shuttingDown, steppedDown } from './errors.js'
import { createChangeStreamCursor, type BatchLimits, type ChangeStreamCursor } from './cursor.js'
import { createEventCache } from './event-cache.js'
import type { Oplog } from './oplog.js'
import { compileUserStages } from './pipeline.js'
import { parseChangeStreamSpec } from './spec.js'

export type { ChangeStreamService, StorageView } from '../types.js'
export { createOplog, type Oplog, type OplogOptions } from './oplog.js'

export interface ChangeStreamDeps {
  readonly oplog: Oplog
  readonly storage: StorageView
  /** Bounds on one change stream reply (see cursor.ts); the defaults when absent. */
  readonly batchLimits?: BatchLimits
}

/** Documents in an aggregate's first batch when `cursor.batchSize` is absent. */
const DEFAULT_FIRST_BATCH = 101

function firstBatchSize(cursorOptions: unknown): number {
  const raw = (cursorOptions as Document | undefined)?.batchSize as { valueOf(): unknown } | undefined
  if (raw === undefined || raw === null) return DEFAULT_FIRST_BATCH
  const size = Number(raw.valueOf())
  if (!Number.isFinite(size) || size < 0) {
    throw locationError(51024, `BatchSize value must be non-negative, but received: ${String(raw.valueOf())}`)
  }
  return size
}

export function createChangeStreams(deps: ChangeStreamDeps): ChangeStreamService {
  const open = new Set<ChangeStreamCursor>()
  const cache = createEventCache()
  let stopped = false

  return {
    async open(cmd: Document, ctx: CommandContext, cursorId: Long) {
      if (stopped) throw shuttingDown()
      const spec = parseChangeStreamSpec(cmd, ctx.db)
      const transform = compileUserStages((cmd.pipeline as unknown[]).slice(1))
      const batchSize = firstBatchSize(cmd.cursor)
      const handle: ChangeStreamCursor = createChangeStreamCursor({
        id: cursorId,
        oplog: deps.oplog,
        spec,
        transform,
        events: {
          showExpandedEvents: spec.showExpandedEvents,
          fullDocument: spec.fullDocument,
          fullDocumentBeforeChange: spec.fullDocumentBeforeChange,
          storage: deps.storage,
        },
        cache,
        limits: deps.batchLimits,
        onDone: () => open.delete(handle),
      })
      open.add(handle)
      // An invalidate in the first batch, or an error, ends the cursor (and takes it out of `open`) at once.
      const firstBatch: CursorBatch = handle.firstBatch(batchSize)
      const cursor: ServerCursor = handle.cursor
      return { cursor, firstBatch }
    },
    stepDown() {
      for (const handle of [...open]) handle.interrupt(steppedDown())
    },
    stop() {
      stopped = true
      for (const handle of [...open]) handle.interrupt(shuttingDown())
    },
  }
}
