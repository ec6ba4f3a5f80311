import type { Collection as MongoCollection } from 'mongodb'
import { isHistoryLost } from '../mongo/history.js'
import { ErrorCode } from '../errors.js'
import type { FanOut } from '../fanout/types.js'
import { createChangeSource, type ChangeSource, type StreamState } from '../mongo/change-source.js'
import type { Position } from '../mongo/position.js'
import type { Member } from './dispatcher.js'
import { createStreamConsumer, type StreamObserver } from './stream-consumer.js'
import type { Collection, EventParser } from './stream-event.js'

export type { StreamObserver } from './stream-consumer.js'

export interface SharedStreamStatus {
  readonly key: string
  readonly collection: Collection
  readonly pipeline: readonly object[]
  readonly state: StreamState
  readonly ownerNode: string | null
  readonly epoch: number | null
  readonly subscribers: number
  readonly eventsReceived: number
  readonly errors: number
  readonly lastEventAt: Date | null
  readonly lagMs: number | null
  readonly position: Position | undefined
  readonly startedAt: Date
  readonly resumes: number
}

/** One shared change stream as a node's subscribers see it, whoever reads MongoDB for it. */
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
  readonly nodeId: string
  readonly observer?: StreamObserver
  /** Shared event parser (see createEventCache). */
  readonly parse: EventParser
  /** Called once the stream ended (invalidated, failed or stopped). */
  readonly onEnded?: () => void
}

/** Maps a change source's fatal error to what its subscribers are told. */
export const failureCode = (error: unknown): ErrorCode => (isHistoryLost(error) ? ErrorCode.CURSOR_EXPIRED : ErrorCode.INTERNAL_SERVER_ERROR)

/** Single node: this node reads the one MongoDB change stream per collection and fans it out in-process. */
export function createSharedStream(options: SharedStreamOptions & { readonly fanout: FanOut }): SharedStream {
  const { key, collection, fanout, observer } = options
  const startedAt = new Date()
  const consumer = createStreamConsumer({
    key,
    collection,
    observer,
    parse: options.parse,
    onEnded: () => {
      unsubscribe()
      void source.stop()
      options.onEnded?.()
    },
  })
  const unsubscribe = fanout.subscribe(key, (message) => consumer.apply(message))

  let resumesSeen = 0
  const source: ChangeSource = createChangeSource({
    collection: options.mongoCollection,
    pipeline: [],
    onEvent: (raw) => fanout.publish(key, { kind: 'event', raw }),
    onIdle: (position) => fanout.publish(key, { kind: 'position', position }),
    onFailed: (error) => fanout.publish(key, { kind: 'end', code: failureCode(error) }),
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
    position: () => consumer.position() ?? source.position(),
    join: (member) => consumer.join(member),
    get subscribers() {
      return consumer.subscribers
    },
    get ended() {
      return consumer.ended
    },
    status: () => ({
      key,
      collection,
      pipeline: [],
      state: source.state,
      ownerNode: options.nodeId,
      epoch: null,
      subscribers: consumer.subscribers,
      eventsReceived: consumer.eventsReceived,
      errors: source.errors,
      lastEventAt: consumer.lastEventAt,
      lagMs: consumer.lagMs,
      position: consumer.position() ?? source.position(),
      startedAt,
      resumes: source.resumes,
    }),
    async stop() {
      consumer.end(ErrorCode.INTERNAL_SERVER_ERROR)
      await source.stop()
    },
  }
}
