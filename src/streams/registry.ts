import type { Db, Collection as MongoCollection } from 'mongodb'
import { internalError, slowConsumer } from '../errors.js'
import type { Position } from '../mongo/position.js'
import type { CompiledFilter } from './filters/compiler.js'
import type { SharedStream, SharedStreamOptions, SharedStreamStatus, StreamObserver } from './shared-stream.js'
import { createEventCache, type Collection, type Delivery } from './stream-event.js'
import type { SubscriberQueue } from './subscriber-queue.js'
import { openSubscription } from './subscription.js'

/** Builds the node's shared stream for one collection (single node, or one consumer of a cluster stream). */
export type StreamFactory = (options: SharedStreamOptions) => SharedStream

export interface StreamRegistryOptions {
  /** Catch-ups and recoveries read history through this database handle... */
  readonly db: Db
  /**
   * ...and shared streams through this one: a client of their own, so a crowd of subscribers catching up (after a
   * node loss, say) cannot starve the one stream everybody depends on of pooled connections. Default: `db`.
   */
  readonly streamDb?: Db
  readonly createStream: StreamFactory
  readonly nodeId: string
  /** Deliveries queued per subscription; past it the subscription re-reads history from MongoDB. */
  readonly bufferSize: number
  /** A subscription with deliveries waiting that reads none for this long ends with SLOW_CONSUMER. */
  readonly slowConsumerTimeoutMs: number
  /** How long a stream without subscribers stays open (ms). Default 10,000. */
  readonly lingerMs?: number
  readonly observer?: StreamObserver
  /** Called when a subscription starts listening, and once when it ends (whoever ends it). */
  readonly onSubscriptionOpened?: (filter: CompiledFilter) => void
  readonly onSubscriptionClosed?: (filter: CompiledFilter) => void
  /** Where a collection's documents name their tenant (null: a collection without tenants). */
  tenantFieldOf(collection: Collection): string | null
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
  /** The pipeline of a collection's shared change stream: it reads every change once; filters run per subscriber group. */
  streamPipeline(collection: Collection): object[]
  /** Open subscriptions on this node with the same tenant and pipeline as `filter` (they share one evaluation). */
  sharing(filter: CompiledFilter): number
  statuses(): SharedStreamStatus[]
  stop(): Promise<void>
}

/** How long a subscribe waits for its stream to open (MongoDB unreachable, say) before it fails. */
const READY_TIMEOUT_MS = 15_000

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(internalError()), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export function createStreamRegistry(options: StreamRegistryOptions): StreamRegistry {
  const streams = new Map<Collection, SharedStream>()
  const lingers = new Map<Collection, NodeJS.Timeout>()
  const lingerMs = options.lingerMs ?? 10_000
  const streamKey = (collection: Collection) => `${options.db.databaseName}.${collection}`
  const open = new Set<SubscriberQueue<Delivery>>()
  /**
   * Open subscriptions per (tenant, canonical pipeline), with the compiled filter they all hold: equal filters are
   * compiled per request but kept once, so 1,000 subscribers to one filter hold one pipeline, not 1,000 copies.
   */
  const groups = new Map<string, { size: number; readonly filter: CompiledFilter }>()
  const groupKey = (filter: CompiledFilter) => `${filter.collection}\n${filter.tenant}\n${filter.canonical}`
  const intern = (filter: CompiledFilter): CompiledFilter => groups.get(groupKey(filter))?.filter ?? filter
  const parse = createEventCache((collection) => options.tenantFieldOf(collection))
  // One driver Collection per collection, not one per subscription (each holds its options, read preference...).
  const mongoCollections = new Map<Collection, MongoCollection>()
  const mongoCollectionOf = (collection: Collection): MongoCollection => {
    let found = mongoCollections.get(collection)
    if (!found) mongoCollections.set(collection, (found = options.db.collection(collection)))
    return found
  }
  // A subscription with events waiting that has read nothing for the timeout is a slow consumer.
  const stallCheck = setInterval(() => {
    const now = performance.now()
    for (const queue of open) {
      if (queue.size > 0 && now - queue.lastPullAt > options.slowConsumerTimeoutMs) queue.fail(slowConsumer())
    }
  }, Math.min(1000, options.slowConsumerTimeoutMs))
  stallCheck.unref()

  const acquire = async (collection: Collection): Promise<SharedStream> => {
    clearTimeout(lingers.get(collection))
    lingers.delete(collection)
    let stream = streams.get(collection)
    if (!stream || stream.ended) {
      const created = options.createStream({
        key: streamKey(collection),
        collection,
        mongoCollection: (options.streamDb ?? options.db).collection(collection),
        parse,
        nodeId: options.nodeId,
        observer: options.observer,
        onEnded: () => {
          if (streams.get(collection) === created) streams.delete(collection)
        },
      })
      streams.set(collection, created)
      stream = created
    }
    await withTimeout(stream.ready, READY_TIMEOUT_MS)
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
    async subscribe(request) {
      const filter = intern(request.filter)
      const { after } = request
      const stream = await acquire(filter.collection)
      // Declared before it is assigned: a subscription that fails while opening closes before it exists.
      const holder: { queue?: SubscriberQueue<Delivery> } = {}
      const queue = await openSubscription({
        filter,
        after,
        stream,
        mongoCollection: mongoCollectionOf(filter.collection),
        bufferSize: options.bufferSize,
        parse,
        onClose: () => {
          if (holder.queue) {
            open.delete(holder.queue)
            const key = groupKey(filter)
            const group = groups.get(key)
            if (group && --group.size <= 0) groups.delete(key)
            options.onSubscriptionClosed?.(filter)
          }
          release(filter.collection, stream)
        },
      })
      if (!queue.closed) {
        holder.queue = queue
        open.add(queue)
        const key = groupKey(filter)
        const group = groups.get(key)
        if (group) group.size++
        else groups.set(key, { size: 1, filter })
        options.onSubscriptionOpened?.(filter)
      }
      return queue
    },
    streamKey,
    streamPipeline: () => [],
    sharing: (filter) => groups.get(groupKey(filter))?.size ?? 0,
    statuses: () => [...streams.values()].map((s) => s.status()),
    async stop() {
      clearInterval(stallCheck)
      for (const timer of lingers.values()) clearTimeout(timer)
      lingers.clear()
      const all = [...streams.values()]
      streams.clear()
      await Promise.all(all.map((s) => s.stop()))
    },
  }
}
