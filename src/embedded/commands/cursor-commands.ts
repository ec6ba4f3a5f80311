/** Cursor plumbing shared by find, aggregate and listings: first batch replies, getMore and killCursors. */
import { Long, type Document } from 'bson'
import { ErrorCode, mongoError } from '../errors.js'
import type { CursorBatch, ServerCursor } from '../types.js'
import { asNumber, numberArg } from './args.js'
import type { Handler, HandlerTable, ServerParts } from './context.js'
import { createArrayCursor, DEFAULT_FIRST_BATCH, takeBatch } from './cursors.js'

const ZERO = Long.fromInt(0)

function cursorReply(batchField: 'firstBatch' | 'nextBatch', id: Long, ns: string, batch: CursorBatch): Document {
  const cursor: Document = { [batchField]: batch.docs, id, ns }
  if (batch.postBatchResumeToken) cursor.postBatchResumeToken = batch.postBatchResumeToken
  return { cursor }
}

/**
 * Replies with the first batch of `docs`; registers a cursor for the rest unless everything fits or
 * `singleBatch` is set.
 */
export function firstBatchReply(
  server: ServerParts,
  ns: string,
  docs: readonly Document[],
  options: { batchSize?: number; singleBatch?: boolean; transform?: (batch: Document[]) => Document[]; originatingCommand?: Document },
): Document {
  const transform = options.transform ?? ((batch: Document[]) => batch)
  const size = options.batchSize ?? DEFAULT_FIRST_BATCH
  const first = size === 0 ? [] : takeBatch(docs, 0, size)
  const batch = transform(first)
  if (options.singleBatch || first.length >= docs.length) {
    return cursorReply('firstBatch', ZERO, ns, { docs: batch, exhausted: true })
  }
  const id = server.cursors.nextId()
  server.cursors.register(createArrayCursor(id, ns, docs, first.length, transform), options.originatingCommand)
  return cursorReply('firstBatch', id, ns, { docs: batch, exhausted: false })
}

/** Registers an externally built cursor (change streams) and replies with its first batch. */
export function registerCursorReply(server: ServerParts, cursor: ServerCursor, first: CursorBatch, originatingCommand?: Document): Document {
  if (first.exhausted) {
    cursor.close()
    return cursorReply('firstBatch', ZERO, cursor.ns, first)
  }
  server.cursors.register(cursor, originatingCommand)
  return cursorReply('firstBatch', cursor.id, cursor.ns, first)
}

const getMore: Handler = async (cmd, req, server) => {
  const raw = cmd.getMore
  if (!(raw instanceof Long)) {
    throw mongoError(ErrorCode.TypeMismatch, "Field 'getMore' must be of type long in: getMore")
  }
  if (typeof cmd.collection !== 'string') {
    throw mongoError(ErrorCode.TypeMismatch, "Field 'collection' must be of type string in: getMore")
  }
  const cursor = server.cursors.get(raw)
  if (!cursor) throw mongoError(ErrorCode.CursorNotFound, `cursor id ${raw.toString()} not found`)
  if (cursor.ns !== `${req.db}.${cmd.collection}`) {
    throw mongoError(ErrorCode.Unauthorized, `Requested getMore on namespace '${req.db}.${cmd.collection}', but cursor belongs to a different namespace ${cursor.ns}`)
  }
  const batchSize = numberArg(cmd, 'batchSize')
  const maxTimeMS = asNumber(cmd.maxTimeMS)
  server.cursors.touch(raw, true)
  let batch: CursorBatch
  try {
    const injected = server.failpoints.afterCursorCheckout(cursor.changeStream === true)
    if (injected) throw injected
    batch = await cursor.getMore(batchSize, maxTimeMS)
  } catch (error) {
    server.cursors.kill(raw)
    throw error
  }
  server.cursors.touch(raw, false)
  if (batch.exhausted) server.cursors.kill(raw)
  return cursorReply('nextBatch', batch.exhausted ? ZERO : raw, cursor.ns, batch)
}

const killCursors: Handler = (cmd, _req, server) => {
  const ids = Array.isArray(cmd.cursors) ? (cmd.cursors as unknown[]) : []
  const cursorsKilled: Long[] = []
  const cursorsNotFound: Long[] = []
  for (const id of ids) {
    if (!(id instanceof Long)) throw mongoError(ErrorCode.TypeMismatch, "Field 'cursors' must contain longs")
    if (server.cursors.kill(id)) cursorsKilled.push(id)
    else cursorsNotFound.push(id)
  }
  return { cursorsKilled, cursorsNotFound, cursorsAlive: [], cursorsUnknown: [] }
}

export const cursorCommands: HandlerTable = { getMore, killCursors }
