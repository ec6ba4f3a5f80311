import { RedisPubSub } from 'graphql-redis-subscriptions'
import { BSON } from 'mongodb'
import type { StreamMessage } from '../fanout/types.js'
import type { LeaseToken } from './lease-manager.js'
import { DEFAULT_PREFIX, FENCED_PUBLISH, leaseValue, redisKeys, runScript, type RedisClient } from './redis-scripts.js'
import { ShardedPubSub } from './sharded-pubsub.js'

/**
 * Cross-node fan-out through Redis pub/sub.
 *
 * A stream's owner publishes each message once, on the stream's channel, through a script that first checks the
 * owner's lease (`nodeId:epoch`): a publish from an owner that lost its lease is refused. Sequence numbers are
 * scoped by epoch: the owner numbers its messages 1, 2, 3 … within its epoch, locally, so no Redis state (that a
 * failover or restart could roll back) decides them and a number is never reused within an epoch. Every node
 * subscribes once per channel, however many local listeners it has, and decodes each message once. Classic pub/sub
 * (through graphql-redis-subscriptions' `RedisPubSub`), or sharded pub/sub (`ShardedPubSub`, Redis ≥ 7).
 *
 * Wire format, one Redis message per event: `seq` `\n` `{"epoch":E,"nodeId":N}` `\n` canonical EJSON of the
 * message, so ObjectId, Timestamp, Date, Long and Decimal128 survive the trip.
 *
 * What listeners see: messages published while a subscriber was disconnected (or lost in a failover) are never
 * redelivered, and a channel can carry two epochs interleaved while an old owner is being fenced out. A message is
 * the continuation of the previous one only with the same epoch and `seq` one higher; anything else is a
 * discontinuity to check against MongoDB, the log to fill gaps from. Listeners also learn of lost connections
 * through `onReconnect`.
 */

export interface Envelope {
  readonly seq: number
  readonly epoch: number
  readonly nodeId: string
}

export type EnvelopeListener = (message: StreamMessage, envelope: Envelope) => void

export interface RedisFanOut {
  /** Fenced publish: numbers the message within the lease's epoch, checks the lease, publishes. */
  publish(lease: LeaseToken, message: StreamMessage): Promise<{ seq: number } | 'fenced'>
  /** Resolves once Redis confirmed the subscription; the returned function unsubscribes this listener. */
  subscribe(streamKey: string, listener: EnvelopeListener): Promise<() => Promise<void>>
  /**
   * Calls `listener` each time the subscriber connection is re-established after a loss, once the channels are
   * subscribed again, so listeners can check for gaps. Returns a function that removes the listener.
   */
  onReconnect(listener: () => void): () => void
  /**
   * Subscribes the stream's channel again (idempotent in Redis), for a listener that heard nothing for longer than
   * the owner's heartbeat: a subscription Redis dropped without the client noticing (a slot that moved, a primary
   * that died) is re-established on the node that now serves the channel.
   */
  refresh(streamKey: string): Promise<void>
  /** Unsubscribes every channel. The Redis clients stay open: they belong to the caller. */
  stop(): Promise<void>
}

export interface RedisFanOutOptions {
  /** Runs the publish script; any client, may be shared with leases and positions. */
  readonly publisher: RedisClient
  /**
   * Dedicated to pub/sub (a subscribed connection runs no other commands). For sharded pub/sub on a Redis Cluster,
   * a `Cluster` created with `shardedSubscribers: true`.
   */
  readonly subscriber: RedisClient
  /** Sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis ≥ 7) instead of classic. Default false. */
  readonly sharded?: boolean
  /**
   * Sharded pub/sub: a new subscriber client to replace one whose subscriptions could not be restored (see
   * `ShardedPubSub`); the function disconnects the old one.
   */
  readonly renewSubscriber?: (old: RedisClient) => RedisClient
  /** Sharded pub/sub: how long a channel may stay silent before it is probed (ms). Default 2500. */
  readonly silenceMs?: number
  /** Sharded pub/sub: told when a subscription had to be restored or could not be. Default: `onError`. */
  readonly onSubscriptionError?: (error: unknown) => void
  /** Key and channel prefix; must match the lease manager's. Default `cg:`. */
  readonly prefix?: string
  /** Told about messages that cannot be decoded and listeners that throw. Default: ignored. */
  readonly onError?: (error: unknown) => void
}

const { EJSON, Long } = BSON

/** Serializes a message as canonical (type-preserving) extended JSON. */
export const encodeStreamMessage = (message: StreamMessage): string => EJSON.stringify(message, { relaxed: false })

/**
 * Parses what {@link encodeStreamMessage} wrote into the values the driver itself would have decoded: BSON classes
 * of the driver's own bson build (so `instanceof ObjectId` from 'mongodb' holds) and numbers promoted as by the
 * driver's defaults (int32 and double as numbers, int64 as a number when exact, else Long).
 */
export function decodeStreamMessage(text: string): StreamMessage {
  const message: unknown = promoteNumbers(EJSON.parse(text, { relaxed: false }))
  if (!isStreamMessage(message)) throw new TypeError('not a stream message')
  return message
}

const MAX_EXACT = Long.fromNumber(2 ** 53)
const MIN_EXACT = Long.fromNumber(-(2 ** 53))

function promoteNumbers(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = promoteNumbers(value[i])
    return value
  }
  const bsontype = (value as { _bsontype?: unknown })._bsontype
  if (bsontype === 'Int32' || bsontype === 'Double') return (value as { valueOf(): number }).valueOf()
  if (bsontype === 'Long') {
    const long = value as InstanceType<typeof Long>
    return long.lessThanOrEqual(MAX_EXACT) && long.greaterThanOrEqual(MIN_EXACT) ? long.toNumber() : long
  }
  if (bsontype !== undefined || Object.getPrototypeOf(value) !== Object.prototype) return value
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record)) record[key] = promoteNumbers(record[key])
  return record
}

function isStreamMessage(value: unknown): value is StreamMessage {
  if (typeof value !== 'object' || value === null) return false
  const message = value as Record<string, unknown>
  if (message.kind === 'event') return typeof message.raw === 'object' && message.raw !== null
  if (message.kind === 'position') return typeof message.position === 'object' && message.position !== null
  if (message.kind === 'end') return typeof message.code === 'string'
  return false
}

/** What the pub/sub layer hands to channel handlers: one decoded message, shared by every local listener. */
class Frame {
  constructor(
    readonly message: StreamMessage,
    readonly envelope: Envelope,
  ) {}
}

function decodeFrame(source: string | Buffer): Frame {
  const text = typeof source === 'string' ? source : source.toString('utf8')
  const first = text.indexOf('\n')
  const second = text.indexOf('\n', first + 1)
  if (first <= 0 || second < 0) throw new TypeError('not a stream frame')
  const seq = Number(text.slice(0, first))
  const header = JSON.parse(text.slice(first + 1, second)) as { epoch?: unknown; nodeId?: unknown }
  const { epoch, nodeId } = header
  if (!Number.isSafeInteger(seq) || typeof epoch !== 'number' || typeof nodeId !== 'string') {
    throw new TypeError('not a stream frame')
  }
  return new Frame(decodeStreamMessage(text.slice(second + 1)), { seq, epoch, nodeId })
}

/**
 * RedisPubSub sends UNSUBSCRIBE without handling the reply: during a Redis outage the rejected command would be an
 * unhandled rejection. Its view of the subscriber catches those and reports the channels (ioredis resubscribes
 * them on reconnect), and hands out the last reply to be awaited.
 */
function guardUnsubscribes<T extends RedisClient>(subscriber: T, unsubscribing: Unsubscribing): T {
  return new Proxy(subscriber, {
    get(target, property) {
      if (property === 'unsubscribe' || property === 'punsubscribe' || property === 'sunsubscribe') {
        const channelsOnly = property !== 'punsubscribe'
        return (...channels: string[]) => {
          const reply = target[property](...channels).catch(() => {
            if (channelsOnly) unsubscribing.failed(channels)
          })
          if (channelsOnly) unsubscribing.last = reply
          return reply
        }
      }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

interface Unsubscribing {
  last?: Promise<unknown>
  failed(channels: readonly string[]): void
}

interface Channel {
  readonly listeners: Set<EnvelopeListener>
  /** The pub/sub subscription id, once Redis confirmed it. */
  readonly subscription: Promise<number>
}

export function createRedisFanOut(options: RedisFanOutOptions): RedisFanOut {
  const { publisher, subscriber } = options
  const sharded = options.sharded ?? false
  const keys = redisKeys(options.prefix ?? DEFAULT_PREFIX)
  const onError = options.onError ?? (() => undefined)
  const events = ['messageBuffer', 'pmessageBuffer'] as const
  const handlersOf = (event: string) => subscriber.listeners(event) as ((...args: unknown[]) => void)[]
  const existing = events.map((event) => new Set(handlersOf(event)))
  const orphans = new Set<string>()
  const unsubscribing: Unsubscribing = { failed: (names) => names.forEach((name) => orphans.add(name)) }
  const guarded = guardUnsubscribes(subscriber, unsubscribing)
  /** Per stream: the epoch this node last published with and the last sequence number it gave out in it. */
  const sequences = new Map<string, { epoch: number; seq: number }>()
  const channels = new Map<string, Channel>()
  const reconnectListeners = new Set<() => void>()
  let stopped = false
  const notifyReconnect = () => {
    if (stopped) return
    for (const listener of [...reconnectListeners]) {
      try {
        listener()
      } catch (error) {
        onError(error)
      }
    }
  }
  // Sharded: ShardedPubSub keeps its subscriptions alive itself (see there) and tells when they were restored.
  const sharedPubSub = sharded
    ? new ShardedPubSub({
        publisher,
        subscriber,
        deserializer: decodeFrame,
        renewSubscriber: options.renewSubscriber,
        onResubscribed: notifyReconnect,
        onError: options.onSubscriptionError ?? onError,
        silenceMs: options.silenceMs,
      })
    : undefined
  const pubsub =
    sharedPubSub ??
    new RedisPubSub({ publisher, subscriber: guarded, deserializer: decodeFrame, messageEventName: events[0], pmessageEventName: events[1] })
  const ownHandlers = events.map((event, n) => handlersOf(event).filter((handler) => !existing[n].has(handler)))
  const publishCommand = sharded ? 'SPUBLISH' : 'PUBLISH'
  const resubscribe = (names: string[]) => (sharedPubSub ? sharedPubSub.resubscribe(names) : subscriber.subscribe(...names))

  const dispatch = (channel: string, listeners: ReadonlySet<EnvelopeListener>, payload: unknown) => {
    if (!(payload instanceof Frame)) return onError(new TypeError(`undecodable message on ${channel}`))
    for (const listener of listeners) {
      try {
        listener(payload.message, payload.envelope)
      } catch (error) {
        onError(error)
      }
    }
  }

  /**
   * With `confirm`, waits for Redis to confirm, but only while connected: during an outage the channel is not
   * subscribed anyway.
   */
  const unsubscribeChannel = async (entry: Channel, confirm: boolean) => {
    const id = await entry.subscription.catch(() => undefined)
    if (id === undefined) return
    if (sharedPubSub) {
      const reply = sharedPubSub.unsubscribe(id)
      if (confirm && sharedPubSub.currentSubscriber().status === 'ready') await reply
      return
    }
    unsubscribing.last = undefined
    pubsub.unsubscribe(id)
    if (confirm && subscriber.status === 'ready') await unsubscribing.last
  }

  /** Unsubscribes channels whose UNSUBSCRIBE failed in an outage and that ioredis subscribed again since. */
  const dropOrphans = () => {
    const stale = [...orphans].filter((name) => !channels.has(name))
    orphans.clear()
    if (stale.length > 0) subscriber.unsubscribe(...stale).catch(() => unsubscribing.failed(stale))
  }

  let connectedOnce = subscriber.status === 'ready'
  let dropped = false
  const onClose = () => {
    if (connectedOnce) dropped = true
  }
  const onReady = () => {
    const reconnected = connectedOnce && dropped
    connectedOnce = true
    dropped = false
    if (!reconnected || stopped) return
    dropOrphans()
    // ioredis resubscribes on its own; subscribing again here makes the notification wait until Redis confirmed it.
    const names = [...channels.keys()]
    const resubscribed = names.length > 0 ? resubscribe(names) : Promise.resolve()
    resubscribed.catch(onError).finally(notifyReconnect)
  }
  if (!sharded) {
    subscriber.on('close', onClose)
    subscriber.on('ready', onReady)
  }

  return {
    async publish(lease, message) {
      if (stopped) throw new Error('fan-out stopped')
      const { streamKey, epoch } = lease
      let numbering = sequences.get(streamKey)
      // An older epoch of this node is never current again: fenced without asking Redis.
      if (numbering && epoch < numbering.epoch) return 'fenced'
      if (!numbering || epoch > numbering.epoch) sequences.set(streamKey, (numbering = { epoch, seq: 0 }))
      const seq = ++numbering.seq
      const frame = `${seq}\n${JSON.stringify({ epoch, nodeId: lease.nodeId })}\n${encodeStreamMessage(message)}`
      const published = await runScript(
        publisher,
        FENCED_PUBLISH,
        [keys.lease(streamKey)],
        [leaseValue(lease.nodeId, epoch), publishCommand, keys.channel(streamKey), frame],
      )
      if (typeof published !== 'number') throw new TypeError('unexpected reply from the publish script')
      return published < 0 ? 'fenced' : { seq }
    },

    async subscribe(streamKey, listener) {
      if (stopped) throw new Error('fan-out stopped')
      const channel = keys.channel(streamKey)
      let entry = channels.get(channel)
      if (!entry) {
        const listeners = new Set<EnvelopeListener>()
        const subscription = pubsub.subscribe<unknown>(channel, (payload) => dispatch(channel, listeners, payload))
        entry = { listeners, subscription }
        channels.set(channel, entry)
      }
      const joined = entry
      // Its own function per subscription: the same listener subscribed twice is unsubscribed once per call.
      const own: EnvelopeListener = (message, envelope) => listener(message, envelope)
      joined.listeners.add(own)
      const leave = async () => {
        if (!joined.listeners.delete(own) || joined.listeners.size > 0) return
        if (channels.get(channel) === joined) channels.delete(channel)
        await unsubscribeChannel(joined, true)
      }
      try {
        await joined.subscription
      } catch (error) {
        await leave()
        throw error
      }
      return leave
    },

    async refresh(streamKey) {
      const channel = keys.channel(streamKey)
      if (stopped || !channels.has(channel)) return
      await resubscribe([channel])
    },

    onReconnect(listener) {
      const own = () => listener()
      reconnectListeners.add(own)
      return () => void reconnectListeners.delete(own)
    },

    async stop() {
      if (stopped) return
      stopped = true
      subscriber.removeListener('close', onClose)
      subscriber.removeListener('ready', onReady)
      reconnectListeners.clear()
      const entries = [...channels.values()]
      channels.clear()
      // Not waiting for confirmations: stopping must not hang on an unresponsive Redis.
      await Promise.all(entries.map((entry) => unsubscribeChannel(entry, false)))
      if (!sharded && subscriber.status !== 'ready') subscriber.once('ready', dropOrphans)
      events.forEach((event, n) => ownHandlers[n].forEach((handler) => subscriber.removeListener(event, handler)))
      sharedPubSub?.close()
    },
  }
}
