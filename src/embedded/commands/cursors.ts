/**
 * The server's cursor registry (find, aggregate, listCollections, change streams) and an array-backed cursor.
 * Cursors outlive their connection, as in MongoDB, and are closed after 10 minutes without a getMore.
 */
import { BSON, Long, type Document } from 'bson'
import type { CursorBatch, ServerCursor } from '../types.js'

export const DEFAULT_FIRST_BATCH = 101
/** Replies stay under MongoDB's 16 MB reply budget. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024 - 64 * 1024
export const CURSOR_IDLE_TIMEOUT_MS = 10 * 60 * 1000

export interface CursorRegistry {
  /** A fresh positive cursor id. */
  nextId(): Long
  /** `originatingCommand`: the command that opened it, as `$currentOp` reports it. */
  register(cursor: ServerCursor, originatingCommand?: Document): void
  get(id: Long): ServerCursor | undefined
  /** Marks a cursor used now (idle timeout restarts); `busy` cursors are never reaped. */
  touch(id: Long, busy: boolean): void
  /** Closes and forgets; false when unknown. */
  kill(id: Long): boolean
  /** Forgets an exhausted cursor (its owner already released it). */
  forget(id: Long): void
  readonly size: number
  /** Every open cursor, for `$currentOp`. */
  list(): readonly CursorInfo[]
  stop(): void
}

export interface CursorInfo {
  readonly cursor: ServerCursor
  readonly originatingCommand?: Document
  readonly createdAt: number
  /** Last use, from `Date.now()`. */
  readonly lastUsed: number
  /** A getMore is running on it. */
  readonly busy: boolean
}

interface Entry {
  readonly cursor: ServerCursor
  readonly originatingCommand?: Document
  readonly createdAt: number
  lastUsed: number
  busy: boolean
}

export function createCursorRegistry(idleTimeoutMs = CURSOR_IDLE_TIMEOUT_MS): CursorRegistry {
  const cursors = new Map<string, Entry>()
  const sweep = setInterval(
    () => {
      const deadline = Date.now() - idleTimeoutMs
      for (const [key, entry] of cursors) {
        if (entry.busy || entry.lastUsed > deadline) continue
        cursors.delete(key)
        safeClose(entry.cursor)
      }
    },
    Math.min(60_000, idleTimeoutMs),
  )
  sweep.unref()

  return {
    nextId() {
      for (;;) {
        const id = Long.fromBits((Math.random() * 0x100000000) | 0, (Math.random() * 0x7fffffff) | 0)
        if (!id.isZero() && !id.isNegative() && !cursors.has(id.toString())) return id
      }
    },
    register(cursor, originatingCommand) {
      const now = Date.now()
      cursors.set(cursor.id.toString(), { cursor, originatingCommand, createdAt: now, lastUsed: now, busy: false })
    },
    get: (id) => cursors.get(id.toString())?.cursor,
    touch(id, busy) {
      const entry = cursors.get(id.toString())
      if (!entry) return
      entry.lastUsed = Date.now()
      entry.busy = busy
    },
    kill(id) {
      const entry = cursors.get(id.toString())
      if (!entry) return false
      cursors.delete(id.toString())
      safeClose(entry.cursor)
      return true
    },
    forget(id) {
      cursors.delete(id.toString())
    },
    get size() {
      return cursors.size
    },
    list: () => [...cursors.values()].map((entry) => ({ ...entry })),
    stop() {
      clearInterval(sweep)
      for (const entry of cursors.values()) safeClose(entry.cursor)
      cursors.clear()
    },
  }
}

function safeClose(cursor: ServerCursor) {
  try {
    cursor.close()
  } catch {
    // a cursor that fails to close is gone either way
  }
}

/**
 * Takes the next batch from `docs` starting at `from`: at most `batchSize` documents (0 or undefined: no count
 * limit) and never more than the reply byte budget (always at least one document).
 */
export function takeBatch(docs: readonly Document[], from: number, batchSize: number | undefined, sized = true): Document[] {
  const max = batchSize && batchSize > 0 ? batchSize : Infinity
  const out: Document[] = []
  let bytes = 0
  for (let i = from; i < docs.length && out.length < max; i++) {
    if (sized) {
      bytes += BSON.calculateObjectSize(docs[i], { ignoreUndefined: true })
      if (bytes > MAX_BATCH_BYTES && out.length > 0) break
    }
    out.push(docs[i])
  }
  return out
}

/** A cursor over documents computed up front (find, aggregate, listCollections, listIndexes). */
export function createArrayCursor(
  id: Long,
  ns: string,
  docs: readonly Document[],
  start: number,
  transform: (batch: Document[]) => Document[] = (batch) => batch,
): ServerCursor {
  let position = start
  return {
    id,
    ns,
    async getMore(batchSize): Promise<CursorBatch> {
      const batch = takeBatch(docs, position, batchSize)
      position += batch.length
      return { docs: transform(batch), exhausted: position >= docs.length }
    },
    close() {
      position = docs.length
    },
  }
}
