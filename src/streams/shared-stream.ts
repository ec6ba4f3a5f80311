import type { Collection as MongoCollection } from 'mongodb'
import { MongoError } from 'mongodb'
import { ErrorCode, gatewayErrorFromCode, internalError } from '../errors.js'
import type { FanOut, StreamMessage } from '../fanout/types.js'
import { createChangeSource, StreamState, type ChangeSource } from '../mongo/change-source.js'
import type { Position } from '../mongo/position.js'
import { createDispatcher, type Member } from './dispatcher.js'
import { INVALIDATING_EVENTS, parseStreamEvent, type Collection } from './stream-event.js'

export interface StreamObserver {
  onEvent?(streamKey: string, lagMs: number): void
  onDeliveries?(collection: Collection, count: number): void
  onResume?(streamKey: string): void
  onStateChange?(streamKey: string, state: StreamState): void
}

export interface SharedStreamStatus {
  readonly key: string
  readonly collection: Collection
  readonly pipeline: readonly object[]
  readonly state: StreamState
  readonly ownerNode: string
  readonly subscribers: number
  readonly eventsReceived: number
  readonly errors: number
  readonly lastEventAt: Date | null
  readonly lagMs: number | null
  readonly position: Position | undefined
  readonly startedAt: Date
  readonly resumes: number
}

export interface SharedStream {
  readonly key: string
  readonly collection: Collection
  /** Resolves once the stream listens (writes committed after this are seen); rejects if it cannot start. */
  readonly ready: Promise<void>
  /** Position of the last message this node dispatched. Every later dispatch is strictly after it. */
  position(): Position | undefined
  join(member: Member): () => void
  readonly subscribers: number
  readonly ended: boolean
  status(): SharedStreamStatus
  stop(): Promise<void>
}

export interface SharedStreamOptions {
  readonly key: string
  readonly collection: Collection
  readonly mongoCollection: MongoCollection
  readonly fanout: FanOut
  readonly nodeId: string
  readonly observer?: StreamObserver
  /** Called once the stream ended (invalidated, failed or stopped). */
  readonly onEnded?: () => void
}


const HISTORY_LOST = 286

/** One MongoDB change stream per collection on this node, shared by all of its subscribers. */
export function createSharedStream(options: SharedStreamOptions): SharedStream {
  const { key, collection, fanout, observer } = options
  const dispatcher = createDispatcher()
  const startedAt = new Date()
  let position: Position | undefined
  let eventsReceived = 0
  let lastEventAt: Date | null = null
  let lagMs: number | null = null
  let ended = false

  const end = (code: ErrorCode) => {
    if (ended) return
    ended = true
    dispatcher.failAll(gatewayErrorFromCode(code))
    unsubscribe()
    void source.stop()
    options.onEnded?.()
  }

  const onMessage = (message: StreamMessage) => {
    if (ended) return
    if (message.kind === 'position') {
      position = message.position
      return
    }
    if (message.kind === 'end') {
      end(message.code)
      return
    }
    const event = parseStreamEvent(collection, message.raw)
    position = event.position
    eventsReceived++
    lastEventAt = new Date()
    lagMs = event.wallTime ? Math.max(0, Date.now() - event.wallTime.getTime()) : null
    observer?.onEvent?.(key, lagMs ?? 0)
    if (INVALIDATING_EVENTS.has(event.operationType)) {
      end(ErrorCode.STREAM_INVALIDATED)
      return
    }
    const delivered = dispatcher.dispatch(event)
    if (delivered > 0) observer?.onDeliveries?.(collection, delivered)
  }
  const unsubscribe = fanout.subscribe(key, onMessage)

  let resumesSeen = 0
  const source: ChangeSource = createChangeSource({
    collection: options.mongoCollection,
    pipeline: [],
    onEvent: (raw) => fanout.publish(key, { kind: 'event', raw }),
    onIdle: (p) => fanout.publish(key, { kind: 'position', position: p }),
    onFailed: (error) => {
      const code = error instanceof MongoError && error.code === HISTORY_LOST ? ErrorCode.CURSOR_EXPIRED : ErrorCode.INTERNAL_SERVER_ERROR
      fanout.publish(key, { kind: 'end', code })
    },
    onStateChange: (state) => {
      if (source && source.resumes > resumesSeen) {
        resumesSeen = source.resumes
        observer?.onResume?.(key)
      }
      observer?.onStateChange?.(key, state)
    },
  })

  return {
    key,
    collection,
    ready: source.ready,
    position: () => position ?? source.position(),
    join: (member) => dispatcher.add(member),
    get subscribers() {
      return dispatcher.size
    },
    get ended() {
      return ended
    },
    status: () => ({
      key,
      collection,
      pipeline: [],
      state: source.state,
      ownerNode: options.nodeId,
      subscribers: dispatcher.size,
      eventsReceived,
      errors: source.errors,
      lastEventAt,
      lagMs,
      position: position ?? source.position(),
      startedAt,
      resumes: source.resumes,
    }),
    async stop() {
      if (!ended) {
        ended = true
        unsubscribe()
        dispatcher.failAll(internalError())
      }
      await source.stop()
    },
  }
}
