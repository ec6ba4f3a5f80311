import { RedisPubSub } from 'graphql-redis-subscriptions'
import type { Redis } from 'ioredis'
import { BSON } from 'mongodb'
import type { LeaseToken } from './lease-manager.js'
import { DEFAULT_PREFIX, FENCED_PUBLISH, leaseValue, redisKeys, runScript } from './redis-scripts.js'
import type { StreamMessage } from '../fanout/types.js'

/**
 * Cross-node fan-out through Redis pub/sub.
 *
 * A stream's owner publishes each message once, on the stream's channel, through a script that first checks the
 * owner's lease (`nodeId:epoch`) and then takes the stream's next sequence number: a publish from an owner that
 * lost its lease is refused, and sequence numbers on a channel are consecutive while Redis keeps its data. Every
 * node subscribes once per channel, however many local listeners it has, and decodes each message once.
 *
 * Wire format, one Redis message per event: `seq` `\n` `{"epoch":E,"nodeId":N}` `\n` canonical EJSON of the
 * message, so ObjectId, Timestamp, Date, Long and Decimal128 survive the trip.
 *
 * What listeners see: the sequence restarts from 1 after a Redis restart (its counter is lost with the data), and
 * messages published while a subscriber was disconnected are never redelivered. Listeners learn about both
 * through `onReconnect` and through a `seq` that is not the last one plus 1; MongoDB is the log to fill gaps from.
 */

export interface Envelope {
  readonly seq: number
  readonly epoch: number
  readonly nodeId: string
}

export type EnvelopeListener = (message: StreamMessage, envelope: Envelope) => void

export interface RedisFanOut {
  /** Fenced publish: checks the lease, takes the stream's next sequence number, publishes. */
  publish(lease: LeaseToken, message: StreamMessage): Promise<{ seq: number } | 'fenced'>
  /** Resolves once Redis confirmed the subscription; the returned function unsubscribes this listener. */
  subscribe(streamKey: string, listener: EnvelopeListener): Promise<() => Promise<void>>
  /**
   * Calls `listener` each time the subscriber connection is re-established after a loss, once the channels are
   * subscribed again, so listeners can check for gaps. Returns a function that removes the listener.
   */
  onReconnect(listener: () => void): () => void
  /** Unsubscribes every channel. The Redis clients stay open: they belong to the caller. */
  stop(): Promise<void>
}

export interface RedisFanOutOptions {
  /** Runs the publish script; any client, may be shared with leases and positions. */
  readonly publisher: Redis
  /** Dedicated to pub/sub (a subscribed connection runs no other commands). */
  readonly subscriber: Redis
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
function guardUnsubscribes(subscriber: Redis, unsubscribing: Unsubscribing): Redis {
  return new Proxy(subscriber, {
    get(target, property) {
      if (property === 'unsubscribe' || property === 'punsubscribe') {
        return (...channels: string[]) => {
          const reply = target[property](...channels).catch(() => {
            if (property === 'unsubscribe') unsubscribing.failed(channels)
          })
          if (property === 'unsubscribe') unsubscribing.last = reply
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
  const keys = redisKeys(options.prefix ?? DEFAULT_PREFIX)
  const onError = options.onError ?? (() => undefined)
  const events = ['messageBuffer', 'pmessageBuffer'] as const
  const handlersOf = (event: string) => subscriber.listeners(event) as ((...args: unknown[]) => void)[]
  const existing = events.map((event) => new Set(handlersOf(event)))
  const orphans = new Set<string>()
  const unsubscribing: Unsubscribing = { failed: (names) => names.forEach((name) => orphans.add(name)) }
  const pubsub = new RedisPubSub({
    publisher,
    subscriber: guardUnsubscribes(subscriber, unsubscribing),
    deserializer: decodeFrame,
    messageEventName: events[0],
    pmessageEventName: events[1],
  })
  const ownHandlers = events.map((event, n) => handlersOf(event).filter((handler) => !existing[n].has(handler)))
  const channels = new Map<string, Channel>()
  const reconnectListeners = new Set<() => void>()
  let stopped = false

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
    const resubscribed = names.length > 0 ? subscriber.subscribe(...names) : Promise.resolve()
    resubscribed.catch(onError).finally(() => {
      if (stopped) return
      for (const listener of [...reconnectListeners]) {
        try {
          listener()
        } catch (error) {
          onError(error)
        }
      }
    })
  }
  subscriber.on('close', onClose)
  subscriber.on('ready', onReady)

  return {
    async publish(lease, message) {
      if (stopped) throw new Error('fan-out stopped')
      const { streamKey } = lease
      const header = JSON.stringify({ epoch: lease.epoch, nodeId: lease.nodeId })
      const seq = await runScript(
        publisher,
        FENCED_PUBLISH,
        [keys.lease(streamKey), keys.seq(streamKey)],
        [leaseValue(lease.nodeId, lease.epoch), keys.channel(streamKey), header, encodeStreamMessage(message)],
      )
      if (typeof seq !== 'number') throw new TypeError('unexpected reply from the publish script')
      return seq < 0 ? 'fenced' : { seq }
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
      if (subscriber.status !== 'ready') subscriber.once('ready', dropOrphans)
      events.forEach((event, n) => ownHandlers[n].forEach((handler) => subscriber.removeListener(event, handler)))
    },
  }
}
