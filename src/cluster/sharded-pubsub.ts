import { randomUUID } from 'node:crypto'
import { PubSubEngine } from 'graphql-subscriptions'
import type { RedisClient } from './redis-scripts.js'

/**
 * Sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis ≥ 7) behind graphql-subscriptions' `PubSubEngine`, the interface
 * `RedisPubSub` implements for classic pub/sub (graphql-redis-subscriptions has no sharded mode).
 *
 * On a Redis Cluster a classic PUBLISH is broadcast over the cluster bus to every node; a sharded one stays on the
 * shard that owns the channel's slot, and only its subscribers' connections carry it. The subscriber must be an
 * ioredis `Cluster` created with `shardedSubscribers: true` (it keeps one connection per primary) or a single `Redis`.
 *
 * Like `RedisPubSub`: one Redis subscription per channel however many handlers it has; handlers get what
 * `deserializer` made of the raw message.
 *
 * Keeping subscriptions alive. A sharded subscription lives on the connection to the primary that serves its slot,
 * and Redis drops it when that primary dies, when the slot moves away (Redis 7 pushes an `sunsubscribe` the client
 * does not expect) or when the whole cluster restarts; ioredis moves it only if its own subscriber group noticed the
 * change, and that group can stay stuck after a cluster-wide outage (a subscriber stopped while it was connecting
 * never settles, and every later reset of the group waits for it). So a channel that stayed silent for
 * `silenceMs` is checked: a probe message is published on it and must come back on the subscriber. If it does not,
 * the channel is subscribed again; if the next probe still does not come back, the subscriber client is replaced
 * by a new one (`renewSubscriber`) and every channel is subscribed on it. Probes are ignored by every node's
 * handlers. After a lost connection came back or the client was replaced, `onResubscribed` is called once every
 * channel is subscribed again: what was published meanwhile is lost, and listeners must check for gaps.
 */
export interface ShardedPubSubOptions {
  readonly publisher: RedisClient
  readonly subscriber: RedisClient
  /** Turns a raw message into what handlers receive. Default: the UTF-8 text parsed as JSON. */
  readonly deserializer?: (message: Buffer) => unknown
  /** Turns a published payload into the message. Default: JSON. */
  readonly serializer?: (payload: unknown) => string
  /**
   * A new subscriber client to replace one whose subscriptions cannot be restored (the caller disconnects the old
   * one, given as argument). Without it, a dead subscription is only subscribed again.
   */
  readonly renewSubscriber?: (old: RedisClient) => RedisClient
  /** Called once channels were subscribed again after a lost connection or a replaced client. */
  readonly onResubscribed?: () => void
  /** Told about failed re-subscriptions and replaced clients. Default: ignored. */
  readonly onError?: (error: unknown) => void
  /** A channel silent this long is probed. Default 2500 ms. */
  readonly silenceMs?: number
  /** How long a probe may take to come back. Default 1500 ms. */
  readonly probeTimeoutMs?: number
}

type Handler = (payload: unknown) => void

interface ChannelState {
  readonly ids: Set<number>
  readonly confirmed: Promise<unknown>
  heardAt: number
  /** Probes that did not come back in a row. */
  misses: number
  checking: boolean
}

/** The first bytes of a probe: never the start of a serialized payload (JSON or the fan-out's frames). */
const PROBE_PREFIX = '\u0000changegate-probe:'
const PROBE_BYTES = Buffer.from(PROBE_PREFIX, 'utf8')

const withTimeout = <T>(promise: Promise<T>, ms: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms)
    promise.then(resolve, reject).finally(() => clearTimeout(timer))
  })

export class ShardedPubSub extends PubSubEngine {
  private readonly publisher: RedisClient
  private subscriber: RedisClient
  private readonly deserialize: (message: Buffer) => unknown
  private readonly serialize: (payload: unknown) => string
  private readonly renewSubscriber?: (old: RedisClient) => RedisClient
  private readonly onResubscribed: () => void
  private readonly onError: (error: unknown) => void
  private readonly silenceMs: number
  private readonly probeTimeoutMs: number
  private readonly subscriptions = new Map<number, { readonly channel: string; readonly handler: Handler }>()
  private readonly channels = new Map<string, ChannelState>()
  private readonly probes = new Map<string, () => void>()
  private readonly watchdog: NodeJS.Timeout
  private nextId = 0
  private connectedOnce: boolean
  private dropped = false
  private renewing = false
  private closed = false

  constructor(options: ShardedPubSubOptions) {
    super()
    this.publisher = options.publisher
    this.subscriber = options.subscriber
    this.deserialize = options.deserializer ?? ((message) => JSON.parse(message.toString('utf8')) as unknown)
    this.serialize = options.serializer ?? ((payload) => JSON.stringify(payload))
    this.renewSubscriber = options.renewSubscriber
    this.onResubscribed = options.onResubscribed ?? (() => undefined)
    this.onError = options.onError ?? (() => undefined)
    this.silenceMs = options.silenceMs ?? 2500
    this.probeTimeoutMs = options.probeTimeoutMs ?? 1500
    this.connectedOnce = this.subscriber.status === 'ready'
    this.listen(this.subscriber)
    this.watchdog = setInterval(() => this.checkSilentChannels(), Math.max(100, Math.floor(this.silenceMs / 2)))
    this.watchdog.unref()
  }

  async publish(channel: string, payload: unknown): Promise<void> {
    await this.publisher.spublish(channel, this.serialize(payload))
  }

  async subscribe(channel: string, onMessage: Handler): Promise<number> {
    const id = ++this.nextId
    this.subscriptions.set(id, { channel, handler: onMessage })
    let entry = this.channels.get(channel)
    if (!entry) {
      entry = { ids: new Set(), confirmed: this.ssubscribe(channel), heardAt: Date.now(), misses: 0, checking: false }
      this.channels.set(channel, entry)
    }
    entry.ids.add(id)
    try {
      await entry.confirmed
    } catch (error) {
      await this.unsubscribe(id)
      throw error
    }
    return id
  }

  /**
   * Resolves once Redis confirmed the SUNSUBSCRIBE of the channel's last handler, or at once; never rejects (a
   * subscription on a lost connection is gone anyway).
   */
  unsubscribe(id: number): Promise<unknown> {
    const subscription = this.subscriptions.get(id)
    if (!subscription) return Promise.resolve()
    this.subscriptions.delete(id)
    const entry = this.channels.get(subscription.channel)
    if (!entry) return Promise.resolve()
    entry.ids.delete(id)
    if (entry.ids.size > 0) return Promise.resolve()
    this.channels.delete(subscription.channel)
    return Promise.resolve()
      .then(() => this.subscriber.sunsubscribe(subscription.channel))
      .catch(() => undefined)
  }

  /**
   * Subscribes the channels again (SSUBSCRIBE is idempotent), one command per channel: on a cluster one command
   * may only name channels of one slot. Resolves when every channel is confirmed, rejects with the first failure.
   */
  async resubscribe(channels: readonly string[] = [...this.channels.keys()]): Promise<void> {
    const names = channels.filter((name) => this.channels.has(name))
    await Promise.all(names.map((name) => withTimeout(this.ssubscribe(name), this.probeTimeoutMs)))
  }

  /** A client that cannot route the command (a cluster whose slot map is not known yet) may throw instead of rejecting. */
  private ssubscribe(channel: string): Promise<unknown> {
    return Promise.resolve().then(() => this.subscriber.ssubscribe(channel))
  }

  /** The channels subscribed now. */
  subscribedChannels(): string[] {
    return [...this.channels.keys()]
  }

  /** The subscriber client in use now (replaced when its subscriptions could not be restored). */
  currentSubscriber(): RedisClient {
    return this.subscriber
  }

  /** Stops listening and checking; the Redis clients stay open (they belong to the caller). */
  close(): void {
    this.closed = true
    clearInterval(this.watchdog)
    this.unlisten(this.subscriber)
    this.probes.clear()
  }

  /** Publishes a probe on the channel; true if it came back on the subscriber, undefined if Redis refused it. */
  async probe(channel: string): Promise<boolean | undefined> {
    const token = randomUUID()
    const back = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.probes.delete(token)
        resolve(false)
      }, this.probeTimeoutMs)
      this.probes.set(token, () => {
        clearTimeout(timer)
        this.probes.delete(token)
        resolve(true)
      })
    })
    try {
      await withTimeout(this.publisher.spublish(channel, PROBE_PREFIX + token), this.probeTimeoutMs)
    } catch {
      this.probes.get(token)?.()
      return undefined
    }
    return back
  }

  private listen(client: RedisClient) {
    client.on('smessageBuffer', this.onMessage)
    client.on('close', this.onClose)
    client.on('ready', this.onReady)
  }

  private unlisten(client: RedisClient) {
    client.removeListener('smessageBuffer', this.onMessage)
    client.removeListener('close', this.onClose)
    client.removeListener('ready', this.onReady)
  }

  private readonly onClose = () => {
    if (this.connectedOnce) this.dropped = true
  }

  private readonly onReady = () => {
    const reconnected = this.connectedOnce && this.dropped
    this.connectedOnce = true
    this.dropped = false
    if (reconnected && !this.closed) this.restore()
  }

  /** Subscribes every channel again, then tells `onResubscribed` (also when some failed: the watchdog retries). */
  private restore() {
    this.resubscribe()
      .catch(this.onError)
      .finally(() => {
        if (!this.closed) this.onResubscribed()
      })
  }

  private checkSilentChannels() {
    if (this.closed || this.renewing) return
    const now = Date.now()
    for (const [channel, entry] of this.channels) {
      if (entry.checking || now - entry.heardAt < this.silenceMs) continue
      entry.checking = true
      void this.check(channel, entry).finally(() => {
        entry.checking = false
        entry.heardAt = Date.now()
      })
    }
  }

  private async check(channel: string, entry: ChannelState) {
    const live = await this.probe(channel)
    // Refused: Redis (or this slot's primary) is unreachable, nothing to conclude; checked again later.
    if (live !== false) {
      if (live) entry.misses = 0
      return
    }
    entry.misses++
    if (entry.misses === 1 || !this.renewSubscriber) {
      // The client lost the subscription without noticing: subscribe again, on the primary serving the slot now.
      await this.resubscribe([channel]).catch(this.onError)
      return
    }
    entry.misses = 0
    this.renew()
  }

  /** Replaces the subscriber client and subscribes every channel on the new one. */
  private renew() {
    const { renewSubscriber } = this
    if (!renewSubscriber || this.renewing || this.closed) return
    this.renewing = true
    const old = this.subscriber
    this.unlisten(old)
    this.onError(new Error('sharded subscriptions could not be restored; replacing the subscriber connection'))
    let fresh: RedisClient
    try {
      fresh = renewSubscriber(old)
    } catch (error) {
      this.onError(error)
      this.listen(old)
      this.renewing = false
      return
    }
    this.subscriber = fresh
    this.connectedOnce = true
    this.dropped = false
    this.listen(fresh)
    this.resubscribe()
      .catch(this.onError)
      .finally(() => {
        this.renewing = false
        if (!this.closed) this.onResubscribed()
      })
  }

  private readonly onMessage = (channel: Buffer | string, message: Buffer) => {
    const entry = this.channels.get(String(channel))
    if (message.subarray(0, PROBE_BYTES.length).equals(PROBE_BYTES)) {
      if (entry) entry.heardAt = Date.now()
      this.probes.get(message.subarray(PROBE_BYTES.length).toString('utf8'))?.()
      return
    }
    if (!entry) return
    entry.heardAt = Date.now()
    let payload: unknown
    try {
      payload = this.deserialize(message)
    } catch (error) {
      payload = error
    }
    for (const id of entry.ids) this.subscriptions.get(id)?.handler(payload)
  }
}
