import type { Db } from 'mongodb'
import { slowConsumer, type GatewayError } from '../errors.js'
import { comparePositions, type Position } from '../mongo/position.js'
import { openCatchUp, toGatewayError as toError } from './catch-up.js'
import { createFilterEvaluator, type Member } from './dispatcher.js'
import type { CompiledFilter } from './filter-compiler.js'
import type { SharedStream, SharedStreamOptions, SharedStreamStatus, StreamObserver } from './shared-stream.js'
import type { Collection, Delivery } from './stream-event.js'
import { createSubscriberQueue, type SubscriberQueue } from './subscriber-queue.js'

/** Builds the node's shared stream for one collection (single node, or one consumer of a cluster stream). */
export type StreamFactory = (options: SharedStreamOptions) => SharedStream

export interface StreamRegistryOptions {
  readonly db: Db
  readonly createStream: StreamFactory
  readonly nodeId: string
  /** Deliveries buffered per subscription before it ends with SLOW_CONSUMER. */
  readonly bufferSize: number
  /** How long a stream without subscribers stays open (ms). Default 10,000. */
  readonly lingerMs?: number
  readonly observer?: StreamObserver
}

export interface SubscribeRequest {
  readonly filter: CompiledFilter
  /** Deliver everything matching strictly after this position, then continue live. */
  readonly after?: Position
}

export interface StreamRegistry {
  /** Resolves once the subscription listens: every matching change committed after it resolves is delivered. */
  subscribe(request: SubscribeRequest): Promise<SubscriberQueue<Delivery>>
  streamKey(collection: Collection): string
  statuses(): SharedStreamStatus[]
  stop(): Promise<void>
}

export function createStreamRegistry(options: StreamRegistryOptions): StreamRegistry {
  const streams = new Map<Collection, SharedStream>()
  const lingers = new Map<Collection, NodeJS.Timeout>()
  const lingerMs = options.lingerMs ?? 10_000
  const streamKey = (collection: Collection) => `${options.db.databaseName}.${collection}`

  const acquire = async (collection: Collection): Promise<SharedStream> => {
    clearTimeout(lingers.get(collection))
    lingers.delete(collection)
    let stream = streams.get(collection)
    if (!stream || stream.ended) {
      const created = options.createStream({
        key: streamKey(collection),
        collection,
        mongoCollection: options.db.collection(collection),
        nodeId: options.nodeId,
        observer: options.observer,
        onEnded: () => {
          if (streams.get(collection) === created) streams.delete(collection)
        },
      })
      streams.set(collection, created)
      stream = created
    }
    await stream.ready
    return stream
  }

  const release = (collection: Collection, stream: SharedStream) => {
    if (stream.subscribers > 0 || lingers.has(collection)) return
    lingers.set(
      collection,
      setTimeout(() => {
        lingers.delete(collection)
        if (stream.subscribers === 0 && streams.get(collection) === stream) {
          streams.delete(collection)
          void stream.stop()
        }
      }, lingerMs).unref(),
    )
  }

  return {
    async subscribe({ filter, after }) {
      const stream = await acquire(filter.collection)
      let buffering: Delivery[] | undefined
      let last: Position | undefined = after
      const push = (delivery: Delivery) => {
        last = delivery.event.position
        queue.push(delivery)
      }
      const member: Member = {
        filter,
        deliver(delivery) {
          if (last && comparePositions(delivery.event.position, last) <= 0) return
          if (!buffering) return push(delivery)
          if (buffering.length >= options.bufferSize) queue.fail(slowConsumer())
          else buffering.push(delivery)
        },
        fail: (error: GatewayError) => queue.fail(error),
      }
      const queue = createSubscriberQueue<Delivery>({
        capacity: options.bufferSize,
        onOverflow: slowConsumer,
        onClose: () => {
          leave()
          release(filter.collection, stream)
        },
      })
      const live = stream.position()
      const needsCatchUp = after !== undefined && (live === undefined || comparePositions(after, live) < 0)
      if (needsCatchUp) buffering = []
      const leave = stream.join(member)
      if (!needsCatchUp || !live) return queue

      let catchUp
      try {
        catchUp = await openCatchUp({
          mongoCollection: options.db.collection(filter.collection),
          collection: filter.collection,
          pipeline: filter.pipeline,
          evaluate: createFilterEvaluator(filter),
          from: after,
          until: live,
        })
      } catch (error) {
        void queue.return?.()
        throw error
      }
      catchUp
        .run(async (delivery) => {
          await queue.space()
          if (queue.closed) return false
          if (!last || comparePositions(delivery.event.position, last) > 0) push(delivery)
          return true
        })
        .then(
          () => {
            const pending = buffering ?? []
            buffering = undefined
            for (const delivery of pending) member.deliver(delivery)
          },
          (error: unknown) => queue.fail(toError(error)),
        )
      return queue
    },
    streamKey,
    statuses: () => [...streams.values()].map((s) => s.status()),
    async stop() {
      for (const timer of lingers.values()) clearTimeout(timer)
      lingers.clear()
      const all = [...streams.values()]
      streams.clear()
      await Promise.all(all.map((s) => s.stop()))
    },
  }
}
