import type { Document } from 'mongodb'
import { ErrorCode } from '../errors.js'
import type { Envelope, RedisFanOut } from './redis-fanout.js'
import type { StreamMessage } from '../fanout/types.js'
import { createChangeSource, StreamState, type ChangeSource } from '../mongo/change-source.js'
import { isHistoryLost, openHistory } from '../mongo/history.js'
import { comparePositions, positionFromEvent, type Position } from '../mongo/position.js'
import type { Lease, LeaseManager, LeaseToken } from './lease-manager.js'
import type { PositionStore } from './position-store.js'
import { failureCode, type SharedStream, type SharedStreamOptions } from '../streams/shared-stream.js'
import { createStreamConsumer } from '../streams/stream-consumer.js'

export interface ClusterDeps {
  readonly fanout: RedisFanOut
  readonly leases: LeaseManager
  readonly positions: PositionStore
  /** The cluster time now: a consumer's starting point. */
  now(): Promise<Position>
  /** Nodes other than this one that still need the stream (to decide whether its position may be forgotten). */
  othersInterested(streamKey: string): Promise<boolean>
  /** How often a node without the lease tries to take it, and refreshes who owns it. Default 1000 ms. */
  readonly ownershipCheckMs?: number
  /** An idle owner publishes its position this often, so consumers notice lost messages. Default 1000 ms. */
  readonly heartbeatMs?: number
  /** Owners persist their position at most this often. Default 200 ms. */
  readonly saveEveryMs?: number
}

type Queued = { readonly message: StreamMessage; readonly envelope: Envelope }

const messagePosition = (message: StreamMessage): Position | undefined =>
  message.kind === 'event'
    ? positionFromEvent(message.raw as Document & { _id: { _data: string } })
    : message.kind === 'position'
      ? message.position
      : undefined

/**
 * A shared stream across nodes. Every node with subscribers consumes the stream's Redis channel: messages apply in
 * sequence order, duplicates drop by position, and any discontinuity — a sequence gap, another epoch (a new
 * owner, or two owners interleaved while one is fenced out), a sequence or epoch that went back after a Redis
 * failover lost writes — is checked against MongoDB: what lies between the consumer's position and the message's is
 * read from MongoDB before the message applies. Positions, not Redis state, decide what a subscriber has seen. One node at a time owns the stream: it holds
 * the lease, reads MongoDB, publishes (fenced by its epoch) and persists its position for the next owner.
 */
export function createClusterStream(options: SharedStreamOptions & { readonly cluster: ClusterDeps }): SharedStream {
  const { key, collection, cluster, observer } = options
  const startedAt = new Date()
  const checkMs = cluster.ownershipCheckMs ?? 1000
  const heartbeatMs = cluster.heartbeatMs ?? 1000
  const saveEveryMs = cluster.saveEveryMs ?? 200
  let stopped = false

  const consumer = createStreamConsumer({ key, collection, observer, parse: options.parse, onEnded: () => void shutdown() })

  // --- consuming: ordered, gap-checked application of the channel's messages
  const pending: Queued[] = []
  let started = false
  /** The (epoch, seq) that continues the last applied message; anything else is checked against MongoDB. */
  let expected: { epoch: number; seq: number } | undefined
  /** The highest epoch seen on the channel: a lease this node takes gets a higher one. */
  let highestEpoch = 0
  let filling = false
  let fillErrors = 0

  /** When the channel last carried a message: an owner heartbeats, so long silence means a lost subscription. */
  let lastMessageAt = Date.now()

  const drain = () => {
    while (started && !filling && pending.length > 0 && !consumer.ended) {
      const { message, envelope } = pending[0]
      const target = messagePosition(message)
      const from = consumer.position()
      const continues = expected !== undefined && envelope.epoch === expected.epoch && envelope.seq === expected.seq
      if (!continues && target && from && comparePositions(target, from) > 0) {
        // A gap, a new owner, an epoch or sequence that went back (a Redis failover lost writes): MongoDB decides.
        // A position message vouches for everything up to and including its position (an owner's heartbeat
        // carries the position of the last event it read): the event at that very position, if missed, is filled
        // too. An event message is filled up to, not including, itself.
        filling = true
        void fill(from, target, message.kind === 'position').then(() => {
          filling = false
          expected = { epoch: envelope.epoch, seq: envelope.seq }
          drain()
        })
        return
      }
      pending.shift()
      // A late message of this epoch (reordered around a failover or slot move) does not move the expectation back.
      if (!expected || envelope.epoch !== expected.epoch || envelope.seq >= expected.seq) {
        expected = { epoch: envelope.epoch, seq: envelope.seq + 1 }
      }
      if (envelope.epoch > highestEpoch) highestEpoch = envelope.epoch
      consumer.apply(message)
    }
  }

  /** Reads MongoDB from `from` up to `until` (excluded unless `inclusive`), applying what it finds. */
  const fill = async (from: Position, until: Position, inclusive: boolean): Promise<void> => {
    while (!stopped && !consumer.ended) {
      try {
        const history = await openHistory({
          collection: options.mongoCollection,
          pipeline: [],
          from: consumer.position() ?? from,
          until,
          inclusive,
        })
        const end = await history.read((raw) => {
          if (stopped || consumer.ended) return false
          consumer.apply({ kind: 'event', raw })
          return true
        })
        // A drop or rename was applied above and ended the consumer; a cursor closed without one ends it too.
        if (end === 'invalidated' && !consumer.ended) consumer.end(ErrorCode.STREAM_INVALIDATED)
        return
      } catch (error) {
        if (isHistoryLost(error)) {
          consumer.end(ErrorCode.CURSOR_EXPIRED)
          return
        }
        fillErrors++
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * fillErrors)))
      }
    }
  }

  let unsubscribe: (() => Promise<void>) | undefined
  const stopReconnectWatch = cluster.fanout.onReconnect(() => {
    // Messages published while disconnected are gone: the next message is checked against MongoDB.
    expected = undefined
  })

  // --- owning: lease, MongoDB change stream, fenced publishing, persisted position
  let lease: Lease | undefined
  let source: ChangeSource | undefined
  let owner: LeaseToken | undefined
  let lastPublishAt = 0
  let published: Position | undefined
  let savedAt = 0
  let saving = false

  const save = (force = false) => {
    const held = lease
    if (!held || !published || saving || (!force && Date.now() - savedAt < saveEveryMs)) return
    saving = true
    savedAt = Date.now()
    void cluster.positions
      .save(held, published)
      .catch(() => false)
      .finally(() => (saving = false))
  }

  const publish = (message: StreamMessage) => {
    const held = lease
    if (!held?.isHeld) return void stopOwning()
    lastPublishAt = Date.now()
    const position = messagePosition(message)
    cluster.fanout.publish(held, message).then(
      (result) => {
        if (result === 'fenced') return void stopOwning()
        if (position && (!published || comparePositions(position, published) > 0)) published = position
        save()
      },
      () => void stopOwning(),
    )
  }

  const startOwning = async (acquired: Lease) => {
    lease = acquired
    owner = acquired
    const saved = await cluster.positions.load(key).catch(() => undefined)
    if (lease !== acquired || stopped) return
    const start = saved?.position ?? consumer.position()
    published = start
    let invalidated = false
    const current = createChangeSource({
      collection: options.mongoCollection,
      pipeline: [],
      start,
      onEvent: (raw) => {
        if (raw.operationType === 'invalidate' || raw.operationType === 'drop' || raw.operationType === 'rename' || raw.operationType === 'dropDatabase') invalidated = true
        publish({ kind: 'event', raw })
      },
      onFailed: (error) => publish({ kind: 'end', code: failureCode(error) }),
      onStateChange: (state) => {
        observer?.onStateChange?.(key, state)
        if (state === StreamState.RESUMING) observer?.onResume?.(key)
        if (state === StreamState.STOPPED && invalidated && lease === acquired) {
          // The collection is gone: the next owner must not resume into the invalidation again.
          void cluster.positions.clear(acquired).finally(() => void stopOwning())
        }
      },
    })
    source = current
    void acquired.lost.then(() => {
      if (lease === acquired) void stopOwning()
    })
    await current.ready.then(
      () => {
        if (!published) published = current.position()
        save(true)
      },
      () => undefined,
    )
  }

  const stopOwning = async (release = false) => {
    const held = lease
    const running = source
    lease = undefined
    source = undefined
    await running?.stop()
    if (held && release) await held.release().catch(() => undefined)
  }

  const ownershipTick = async () => {
    if (stopped) return
    try {
      if (lease && !lease.isHeld) await stopOwning()
      if (!lease) {
        const acquired = await cluster.leases.tryAcquire(key, Math.max(highestEpoch, owner?.epoch ?? 0))
        if (acquired && !stopped) await startOwning(acquired)
      }
      owner = lease ?? (await cluster.leases.owner(key))
      if (!lease && started && Date.now() - lastMessageAt > 3 * heartbeatMs) {
        // Silence past three owner heartbeats: subscribe again; whatever was missed is checked against MongoDB.
        lastMessageAt = Date.now()
        expected = undefined
        await cluster.fanout.refresh(key)
      }
      const running = source
      if (lease && running && Date.now() - lastPublishAt >= heartbeatMs) {
        const position = running.position()
        if (position) publish({ kind: 'position', position })
      }
    } catch {
      // Redis unreachable: try again on the next tick.
    }
  }
  const timer = setInterval(() => void ownershipTick(), Math.min(checkMs, heartbeatMs))
  timer.unref()

  const ready = (async () => {
    unsubscribe = await cluster.fanout.subscribe(key, (message, envelope) => {
      lastMessageAt = Date.now()
      pending.push({ message, envelope })
      drain()
    })
    consumer.advance(await cluster.now())
    started = true
    drain()
    void ownershipTick()
  })()
  ready.catch(() => undefined)

  const shutdown = async () => {
    if (stopped) return
    stopped = true
    clearInterval(timer)
    stopReconnectWatch()
    const held = lease
    if (held?.isHeld && !(await cluster.othersInterested(key).catch(() => true))) {
      await cluster.positions.clear(held).catch(() => undefined)
    }
    await stopOwning(true)
    await unsubscribe?.().catch(() => undefined)
    options.onEnded?.()
  }

  return {
    key,
    collection,
    ready,
    position: () => consumer.position(),
    join: (member) => consumer.join(member),
    get subscribers() {
      return consumer.subscribers
    },
    get ended() {
      return consumer.ended || stopped
    },
    status: () => ({
      key,
      collection,
      pipeline: [],
      state: source?.state ?? (stopped ? StreamState.STOPPED : started ? StreamState.RUNNING : StreamState.STARTING),
      ownerNode: owner?.nodeId ?? null,
      epoch: owner?.epoch ?? null,
      subscribers: consumer.subscribers,
      eventsReceived: consumer.eventsReceived,
      errors: (source?.errors ?? 0) + fillErrors,
      lastEventAt: consumer.lastEventAt,
      lagMs: consumer.lagMs,
      position: consumer.position(),
      startedAt,
      resumes: source?.resumes ?? 0,
    }),
    async stop() {
      consumer.end(ErrorCode.INTERNAL_SERVER_ERROR)
      await shutdown()
    },
  }
}
