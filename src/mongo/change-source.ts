import { MongoError, MongoNetworkError, MongoServerSelectionError, Timestamp } from 'mongodb'
import type { ChangeStream, ChangeStreamOptions, Collection, Document } from 'mongodb'
import { comparePositions, positionFromEvent, positionFromToken, type Position } from './position.js'

export const StreamState = {
  STARTING: 'STARTING',
  RUNNING: 'RUNNING',
  RESUMING: 'RESUMING',
  FAILED: 'FAILED',
  STOPPED: 'STOPPED',
} as const
export type StreamState = (typeof StreamState)[keyof typeof StreamState]

export interface ChangeSourceOptions {
  readonly collection: Collection
  /** Stages after `$changeStream`. */
  readonly pipeline: Document[]
  /** Where to start; absent = now. */
  readonly start?: Position
  /** Called once per event, in order. */
  readonly onEvent: (event: Document) => void
  /** Called when the stream's position advanced without an event (an empty batch's high-water mark). */
  readonly onIdle?: (position: Position) => void
  /** Called when the stream can no longer continue (not for errors the stream resumes from). */
  readonly onFailed?: (error: unknown) => void
  readonly onStateChange?: (state: StreamState) => void
  /** How long one getMore waits for events. Default 500. */
  readonly maxAwaitTimeMS?: number
}

/** A change stream that resumes from its own position across resumable errors, until stopped or failed. */
export interface ChangeSource {
  readonly state: StreamState
  /** Resolves once MongoDB has opened the stream (its start is fixed); rejects if it fails before that. */
  readonly ready: Promise<void>
  /** Last event's or high-water mark's position; undefined before the stream opened. */
  position(): Position | undefined
  readonly resumes: number
  readonly errors: number
  stop(): Promise<void>
}

/** MongoDB's rule (wire version >= 9): network errors, CursorNotFound and errors labelled resumable. */
export function isResumableChangeStreamError(error: unknown): boolean {
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) return true
  if (!(error instanceof MongoError)) return false
  return error.code === 43 || error.hasErrorLabel('ResumableChangeStreamError')
}

export function startOptionsFor(position: Position | undefined): ChangeStreamOptions {
  if (!position) return {}
  if (position.kind === 'token') return { resumeAfter: { _data: position.token } }
  // A time position means "everything at or before T has been seen": start just after it.
  const { t, i } = position.time
  return { startAtOperationTime: i >= 0xffffffff ? new Timestamp({ t: t + 1, i: 0 }) : new Timestamp({ t, i: i + 1 }) }
}

/** A change stream whose cursor was closed by the server without an invalidate event; not resumable. */
export class ChangeStreamClosedError extends Error {
  constructor() {
    super('change stream cursor closed by the server')
  }
}

const RESUME_BACKOFF_MS = [50, 100, 250, 500, 1000, 2000]

/**
 * The driver hands out a batch's buffered events through promises that settle without an event-loop turn, so a
 * batch of a thousand events would be dispatched in one go, holding timers, socket reads and writes back for as long.
 * After this much work the loop yields a turn before it takes the next event. Not much less: every turn flushes the
 * sockets' corked frames, and at 10 ms the writes split into more, smaller ones (fan-out benchmark: gateway CPU per
 * delivery 1.11×, commit→client p99 4.6×; bench/results/fanout-compiled.md).
 */
const SLICE_MS = 40
/**
 * The next slice starts in the timers phase, not the check phase: there the turn's socket flush (ws-adapter.ts)
 * runs, and a slice right behind it would hold timers back for both.
 */
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

export function createChangeSource(options: ChangeSourceOptions): ChangeSource {
  let state: StreamState = StreamState.STARTING
  let position = options.start
  let opened = false
  let stopped = false
  let resumes = 0
  let errors = 0
  let current: ChangeStream | undefined
  let resolveReady!: () => void
  let rejectReady!: (e: unknown) => void
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve
    rejectReady = reject
  })
  ready.catch(() => undefined)

  const setState = (next: StreamState) => {
    if (state === next) return
    state = next
    options.onStateChange?.(next)
  }

  const markOpen = () => {
    if (!opened) {
      opened = true
      resolveReady()
    }
    setState(StreamState.RUNNING)
  }

  const closeQuietly = async (stream: ChangeStream | undefined) => {
    try {
      await stream?.close()
    } catch {
      // closing a broken stream fails in uninteresting ways
    }
  }

  const runOnce = async () => {
    const stream = options.collection.watch(options.pipeline, {
      fullDocument: 'whenAvailable',
      fullDocumentBeforeChange: 'whenAvailable',
      maxAwaitTimeMS: options.maxAwaitTimeMS ?? 500,
      ...startOptionsFor(position),
    })
    current = stream
    // The stream listens from its aggregate on: signal readiness then, not after the first (awaiting) getMore.
    const onOpened = (token: unknown) => {
      if (opened || stopped) return
      if (!position && token) position = positionFromToken(token as { _data: string })
      markOpen()
    }
    stream.once('resumeTokenChanged', onOpened)
    let sliceStart = performance.now()
    try {
      while (!stopped) {
        if (performance.now() - sliceStart > SLICE_MS) {
          await nextTurn()
          if (stopped) return
          sliceStart = performance.now()
        }
        const event = await stream.tryNext()
        if (stopped) return
        markOpen()
        if (event) {
          position = positionFromEvent(event as Document & { _id: { _data: string } })
          options.onEvent(event)
          if (event.operationType === 'invalidate') return
        } else if (stream.closed) {
          // MongoDB closed the cursor without an invalidate we saw: nothing more will come, and spinning on
          // tryNext() would starve the event loop.
          throw new ChangeStreamClosedError()
        } else if (stream.resumeToken) {
          // An empty batch came back from MongoDB: the loop has had its turns meanwhile.
          sliceStart = performance.now()
          const next = positionFromToken(stream.resumeToken as { _data: string })
          if (!position || comparePositions(position, next) !== 0) {
            position = next
            options.onIdle?.(next)
          }
        }
      }
    } finally {
      stream.off('resumeTokenChanged', onOpened)
      current = undefined
      await closeQuietly(stream)
    }
  }

  const loop = async () => {
    let attempt = 0
    while (!stopped) {
      try {
        await runOnce()
        if (!stopped) {
          // invalidated: this source is done
          setState(StreamState.STOPPED)
          stopped = true
        }
        return
      } catch (error) {
        if (stopped) return
        errors++
        if (!isResumableChangeStreamError(error)) {
          setState(StreamState.FAILED)
          stopped = true
          rejectReady(error)
          options.onFailed?.(error)
          return
        }
        resumes++
        setState(StreamState.RESUMING)
        await new Promise((r) => setTimeout(r, RESUME_BACKOFF_MS[Math.min(attempt++, RESUME_BACKOFF_MS.length - 1)]))
      }
    }
  }
  void loop()

  return {
    get state() {
      return state
    },
    ready,
    position: () => position,
    get resumes() {
      return resumes
    },
    get errors() {
      return errors
    },
    async stop() {
      if (stopped && !current) {
        if (state !== StreamState.FAILED) setState(StreamState.STOPPED)
        return
      }
      stopped = true
      setState(StreamState.STOPPED)
      rejectReady(new Error('change source stopped'))
      await closeQuietly(current)
    },
  }
}
