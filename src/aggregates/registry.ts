import type { Db, Document } from 'mongodb'
import { badUserInput, ErrorCode, GatewayError, hasCode, internalError } from '../errors.js'
import { idString } from '../mongo/ids.js'
import { positionFromTime, type Position } from '../mongo/position.js'
import { openCatchUp, toGatewayError } from '../streams/catch-up.js'
import { createFilterEvaluator } from '../streams/dispatcher.js'
import type { CompiledFilter } from '../streams/filters/compiler.js'
import type { StreamRegistry } from '../streams/registry.js'
import { parseStreamEvent, type Delivery } from '../streams/stream-event.js'
import type { QueueItem, SubscriberQueue } from '../streams/subscriber-queue.js'
import type { ContributionSpec } from './contributions.js'
import { LiveAggregate, systemClock, type AggregateChange, type AggregateSnapshot, type Clock } from './live-aggregate.js'
import { TooManyGroupsError } from './state.js'
import { windowAt } from './window.js'

export interface AggregateRequest {
  /** The model's change filter for `where`, bound to the caller's tenant: the changes that can move the totals. */
  readonly filter: CompiledFilter
  /** The same conditions on the documents themselves, tenant included: the starting read. */
  readonly documentQuery: Document
  readonly spec: ContributionSpec
}

export interface AggregateRegistryOptions {
  readonly db: Db
  readonly streams: StreamRegistry
  /** The cluster's time now. */
  now(): Promise<Position>
  /** Distinct groups one aggregate may hold (over all its window's buckets). */
  readonly maxGroups: number
  /** How long an aggregate without subscribers is kept, for a dashboard that reconnects (ms). */
  readonly lingerMs?: number
  readonly clock?: Clock
  /**
   * When the aggregate's own subscription fails (it fell behind: SLOW_CONSUMER, CURSOR_EXPIRED), the value is
   * computed again from a new position after `backoffMs` (doubled per attempt), at most `attempts` times in a
   * row; past that, subscribers get the error. A rebuilt aggregate that follows its stream for `healthyMs` starts
   * counting again. Defaults: 3 attempts, 250 ms, 60 s.
   */
  readonly rebuild?: { readonly attempts?: number; readonly backoffMs?: number; readonly healthyMs?: number }
  readonly observer?: AggregateObserver
}

export interface AggregateObserver {
  /** An aggregate's subscription failed with `code` and its value is being computed again. */
  onRebuild?(code: ErrorCode): void
}

export interface AggregateRegistry {
  /**
   * Resolves once the aggregate's first value is computed and it listens: values then follow every change, at most
   * one per `throttleMs`. Throws the GatewayError that kept it from starting.
   */
  subscribe(request: AggregateRequest, throttleMs: number): Promise<AsyncIterableIterator<QueueItem<AggregateSnapshot>>>
  /** Aggregates held on this node, and their subscribers. */
  stats(): { readonly aggregates: number; readonly subscribers: number }
  stop(): Promise<void>
}

interface Shared {
  readonly live: LiveAggregate
  readonly started: Promise<void>
  subscribers: number
  cancelLinger?: () => void
  stop(): void
}

const keyOf = (request: AggregateRequest) =>
  JSON.stringify([
    request.filter.tenant,
    request.filter.canonical,
    request.spec.groupBy.map((f) => f.path),
    request.spec.window,
  ])

const asGatewayError = (error: unknown, maxGroups: number): GatewayError =>
  error instanceof TooManyGroupsError
    ? badUserInput(`the aggregate would hold more than ${maxGroups} groups: narrow \`where\` or \`groupBy\``)
    : toGatewayError(error)

/**
 * Failures of the aggregate's own consumer, not of the data: it fell behind its stream. Computing the value again
 * from a new position repairs them; anything else (STREAM_INVALIDATED, a group limit, an internal error) ends
 * the subscribers with it.
 */
const isRebuildable = (error: GatewayError): boolean => hasCode(error, ErrorCode.SLOW_CONSUMER) || hasCode(error, ErrorCode.CURSOR_EXPIRED)

/** A change as the aggregate sees it: only the images inside it (the filter's transition says which). */
function changeOf(delivery: Delivery): AggregateChange {
  const { event, transition } = delivery
  return {
    position: event.position,
    seconds: event.position.time?.t ?? Math.floor(Date.now() / 1000),
    id: idString((event.documentKey as { _id?: unknown })._id),
    before: transition === 'ENTERED' ? null : event.before,
    after: transition === 'LEFT' ? null : event.after,
  }
}

/**
 * Live aggregates, one per distinct (tenant, conditions, grouping, window) on this node, shared by every
 * subscriber. Each starts exactly at a position and then follows the model's shared change stream (the same
 * fan-out, gap fill and exactly-once rules as a subscription, on one node or many):
 *
 * - totals (all time, or windowed on a date field): the matching documents are read (by `_id`, so none is read
 *   twice) between two cluster times P0 and P1; every document a change touched in (P0, P1] is then replaced by its
 *   image at P1 from the change history. That is the set as of P1, whatever the read saw mid-way; live changes
 *   follow from P1.
 * - windowed on commit time: the history from the window's start to P1 gives each document changed since, and
 *   the time of its last change; live changes follow from P1.
 */
export function createAggregateRegistry(options: AggregateRegistryOptions): AggregateRegistry {
  const clock = options.clock ?? systemClock
  const lingerMs = options.lingerMs ?? 10_000
  const shared = new Map<string, Shared>()
  const rebuildAttempts = options.rebuild?.attempts ?? 3
  const rebuildBackoffMs = options.rebuild?.backoffMs ?? 250
  const rebuildHealthyMs = options.rebuild?.healthyMs ?? 60_000

  const catchUp = async (request: AggregateRequest, from: Position, until: Position, onChange: (delivery: Delivery) => void) => {
    const { filter } = request
    const history = await openCatchUp({
      mongoCollection: options.db.collection(filter.collection),
      collection: filter.collection,
      filter,
      pipeline: filter.pipeline,
      evaluate: createFilterEvaluator(filter),
      parse: (collection, raw) => parseStreamEvent(collection, raw, filter.tenantField),
      from,
      until,
    })
    try {
      await history.run(async (delivery) => {
        onChange(delivery)
        return true
      })
    } finally {
      await history.close()
    }
  }

  /** Computes the value at a position P1, then follows the stream from P1. Returns the live subscription. */
  async function begin(request: AggregateRequest, live: LiveAggregate): Promise<SubscriberQueue<Delivery>> {
    const { filter, spec } = request
    const window = spec.window
    if (window && window.timeField === null) {
      const p1 = await options.now()
      const start = windowAt(window, p1.time!.t).start
      const queue = await options.streams.subscribe({ filter, after: p1 })
      try {
        await catchUp(request, positionFromTime({ t: start, i: 0 }), p1, (delivery) => live.apply(changeOf(delivery)))
      } catch (error) {
        void queue.return?.()
        throw error
      }
      live.start(p1)
      return queue
    }
    const p0 = await options.now()
    let query = request.documentQuery
    if (window) {
      const start = windowAt(window, Math.floor(clock.now() / 1000)).start
      query = { $and: [query, { [window.timeField!]: { $gte: new Date(start * 1000) } }] }
    }
    const projection: Document = { _id: 1 }
    for (const field of [...spec.groupBy, ...spec.numeric]) projection[field.path] = 1
    if (window?.timeField) projection[window.timeField] = 1
    const documents = await options.db.collection(filter.collection).find(query, { projection }).sort({ _id: 1 }).toArray()
    const p1 = await options.now()
    const queue = await options.streams.subscribe({ filter, after: p1 })
    try {
      const atP1 = new Map<string, Document>(documents.map((doc) => [idString(doc._id), doc]))
      await catchUp(request, p0, p1, (delivery) => {
        const change = changeOf(delivery)
        if (change.after) atP1.set(change.id, change.after)
        else atP1.delete(change.id)
      })
      for (const doc of atP1.values()) live.addDocument(doc)
    } catch (error) {
      void queue.return?.()
      throw error
    }
    live.start(p1)
    return queue
  }

  function open(key: string, request: AggregateRequest): Shared {
    const live = new LiveAggregate(request.spec, clock, options.maxGroups)
    let queue: SubscriberQueue<Delivery> | undefined
    let stopped = false
    let cancelRebuild: (() => void) | undefined
    let rebuilds = 0
    let followingSince = 0
    const end = (error: unknown) => {
      if (!stopped) live.fail(asGatewayError(error, options.maxGroups))
      if (shared.get(key) === entry) shared.delete(key)
    }
    /** Computes the value at a new position, then follows the stream from there. */
    const run = async () => {
      const q = await begin(request, live)
      queue = q
      if (stopped) {
        live.close()
        void q.return?.()
        return
      }
      followingSince = clock.now()
      void follow(q)
    }
    const follow = async (q: SubscriberQueue<Delivery>) => {
      let failure: GatewayError
      try {
        for await (const item of q) {
          if (item.error) throw item.error
          live.apply(changeOf(item.value))
        }
        if (stopped) return
        failure = internalError()
      } catch (error) {
        if (stopped) return
        failure = asGatewayError(error, options.maxGroups)
      }
      rebuildOrEnd(failure)
    }
    /** Subscribers wait (they see no value) while the value is computed again; they get the next one at its cursor. */
    const rebuildOrEnd = (failure: GatewayError) => {
      if (stopped) return
      if (clock.now() - followingSince >= rebuildHealthyMs) rebuilds = 0
      if (!isRebuildable(failure) || rebuilds >= rebuildAttempts) return end(failure)
      rebuilds++
      options.observer?.onRebuild?.(failure.code)
      live.reset()
      cancelRebuild = clock.schedule(rebuildBackoffMs * 2 ** (rebuilds - 1), () => {
        cancelRebuild = undefined
        if (!stopped) run().catch((error: unknown) => rebuildOrEnd(asGatewayError(error, options.maxGroups)))
      })
    }
    const entry: Shared = {
      live,
      subscribers: 0,
      started: run(),
      stop() {
        stopped = true
        cancelRebuild?.()
        live.close()
        void queue?.return?.()
        if (shared.get(key) === entry) shared.delete(key)
      },
    }
    entry.started.catch(end)
    shared.set(key, entry)
    return entry
  }

  const release = (key: string, entry: Shared) => {
    entry.subscribers--
    if (entry.subscribers > 0) return
    entry.cancelLinger = clock.schedule(lingerMs, () => {
      if (entry.subscribers === 0) entry.stop()
    })
  }

  return {
    async subscribe(request, throttleMs) {
      const key = keyOf(request)
      let entry = shared.get(key)
      if (!entry || entry.live.error) entry = open(key, request)
      entry.cancelLinger?.()
      entry.cancelLinger = undefined
      entry.subscribers++
      try {
        await entry.started
      } catch (error) {
        release(key, entry)
        throw asGatewayError(error, options.maxGroups)
      }
      return snapshots(entry, throttleMs, clock, () => release(key, entry))
    },
    stats() {
      let subscribers = 0
      for (const entry of shared.values()) subscribers += entry.subscribers
      return { aggregates: shared.size, subscribers }
    },
    async stop() {
      for (const entry of [...shared.values()]) entry.stop()
      shared.clear()
    },
  }
}

/** One subscriber's values: the current one first, then the latest after each change, at most one per `throttleMs`. */
function snapshots(entry: Shared, throttleMs: number, clock: Clock, release: () => void): AsyncIterableIterator<QueueItem<AggregateSnapshot>> {
  const { live } = entry
  let emittedVersion = -1
  let emittedAt = -Infinity
  let done = false
  let wake: (() => void) | undefined
  const stopListening = live.onChange(() => wake?.())
  const finish = () => {
    if (done) return
    done = true
    stopListening()
    release()
    wake?.()
  }
  const waitFor = (ms: number | null) =>
    new Promise<void>((resolve) => {
      const cancel = ms === null ? undefined : clock.schedule(ms, () => resolve())
      wake = () => {
        cancel?.()
        resolve()
      }
    })

  const iterator: AsyncIterableIterator<QueueItem<AggregateSnapshot>> = {
    async next() {
      while (!done) {
        if (live.error) {
          const error = live.error
          finish()
          return { value: { error }, done: false }
        }
        if (live.ready && live.version !== emittedVersion) {
          const wait = emittedAt + throttleMs - clock.now()
          if (wait > 0) {
            await waitFor(wait)
            continue
          }
          emittedVersion = live.version
          emittedAt = clock.now()
          return { value: { value: live.snapshot() }, done: false }
        }
        await waitFor(null)
      }
      return { value: undefined, done: true }
    },
    async return() {
      finish()
      return { value: undefined, done: true }
    },
    [Symbol.asyncIterator]() {
      return iterator
    },
  }
  return iterator
}
