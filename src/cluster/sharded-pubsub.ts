import { PubSubEngine } from 'graphql-subscriptions'
import type { RedisClient } from './redis-scripts.js'

/**
 * Sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis ≥ 7) behind graphql-subscriptions' `PubSubEngine`, the interface
 * `RedisPubSub` implements for classic pub/sub (graphql-redis-subscriptions has no sharded mode).
 *
 * On a Redis Cluster a classic PUBLISH is broadcast over the cluster bus to every node; a sharded one stays on the
 * shard that owns the channel's slot, and only its subscribers' connections carry it. The subscriber must be an
 * ioredis `Cluster` created with `shardedSubscribers: true` (it keeps one connection per primary and moves
 * subscriptions when slots move or a replica is promoted) or a single `Redis`.
 *
 * Like `RedisPubSub`: one Redis subscription per channel however many handlers it has; handlers get what
 * `deserializer` made of the raw message.
 */
export interface ShardedPubSubOptions {
  readonly publisher: RedisClient
  readonly subscriber: RedisClient
  /** Turns a raw message into what handlers receive. Default: the UTF-8 text parsed as JSON. */
  readonly deserializer?: (message: Buffer) => unknown
  /** Turns a published payload into the message. Default: JSON. */
  readonly serializer?: (payload: unknown) => string
}

type Handler = (payload: unknown) => void

export class ShardedPubSub extends PubSubEngine {
  private readonly publisher: RedisClient
  private readonly subscriber: RedisClient
  private readonly deserialize: (message: Buffer) => unknown
  private readonly serialize: (payload: unknown) => string
  private readonly subscriptions = new Map<number, { readonly channel: string; readonly handler: Handler }>()
  private readonly channels = new Map<string, { readonly ids: Set<number>; readonly confirmed: Promise<unknown> }>()
  private nextId = 0

  constructor(options: ShardedPubSubOptions) {
    super()
    this.publisher = options.publisher
    this.subscriber = options.subscriber
    this.deserialize = options.deserializer ?? ((message) => JSON.parse(message.toString('utf8')) as unknown)
    this.serialize = options.serializer ?? ((payload) => JSON.stringify(payload))
    this.subscriber.on('smessageBuffer', this.onMessage)
  }

  async publish(channel: string, payload: unknown): Promise<void> {
    await this.publisher.spublish(channel, this.serialize(payload))
  }

  async subscribe(channel: string, onMessage: Handler): Promise<number> {
    const id = ++this.nextId
    this.subscriptions.set(id, { channel, handler: onMessage })
    let entry = this.channels.get(channel)
    if (!entry) {
      entry = { ids: new Set(), confirmed: this.subscriber.ssubscribe(channel) }
      this.channels.set(channel, entry)
    }
    entry.ids.add(id)
    try {
      await entry.confirmed
    } catch (error) {
      this.unsubscribe(id)
      throw error
    }
    return id
  }

  /** Resolves once Redis confirmed the SUNSUBSCRIBE of the channel's last handler (or at once). */
  unsubscribe(id: number): Promise<unknown> {
    const subscription = this.subscriptions.get(id)
    if (!subscription) return Promise.resolve()
    this.subscriptions.delete(id)
    const entry = this.channels.get(subscription.channel)
    if (!entry) return Promise.resolve()
    entry.ids.delete(id)
    if (entry.ids.size > 0) return Promise.resolve()
    this.channels.delete(subscription.channel)
    return this.subscriber.sunsubscribe(subscription.channel)
  }

  /** The channels subscribed now. */
  subscribedChannels(): string[] {
    return [...this.channels.keys()]
  }

  /** Stops listening; the Redis clients stay open (they belong to the caller). */
  close(): void {
    this.subscriber.removeListener('smessageBuffer', this.onMessage)
  }

  private readonly onMessage = (channel: Buffer | string, message: Buffer) => {
    const entry = this.channels.get(String(channel))
    if (!entry) return
    let payload: unknown
    try {
      payload = this.deserialize(message)
    } catch (error) {
      payload = error
    }
    for (const id of entry.ids) this.subscriptions.get(id)?.handler(payload)
  }
}
