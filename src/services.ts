import type { Db } from 'mongodb'
import type { AggregateRegistry } from './aggregates/registry.js'
import { createLoaders } from './loaders/index.js'
import type { Metrics } from './observability/metrics.js'
import type { Loaders } from './loaders/index.js'
import type { ModelRegistry } from './models/index.js'
import type { CursorCodec } from './mongo/cursor-codec.js'
import type { Position } from './mongo/position.js'
import type { CompiledFilter } from './streams/filters/compiler.js'
import type { StreamRegistry } from './streams/registry.js'
import type { Delivery } from './streams/stream-event.js'
import type { QueueItem } from './streams/subscriber-queue.js'

export interface GatewayNodeInfo {
  readonly id: string
  readonly address: string
  readonly startedAt: Date
  readonly heartbeatAgeMs: number
  readonly connections: number
  readonly subscriptions: number
  readonly ownedStreams: readonly string[]
}

/** What resolvers use; built once per node by the composition root. */
export interface GatewayServices {
  readonly db: Db
  readonly models: ModelRegistry
  readonly registry: StreamRegistry
  /** Live aggregates, shared per (tenant, conditions, grouping, window). */
  readonly aggregates: AggregateRegistry
  readonly cursors: CursorCodec
  /** The cluster's time now: subscribing after it misses nothing committed later. */
  now(): Promise<Position>
  /** Opens a subscription; `after` is the client's cursor (checked against the filter's tenant and collection). */
  subscribe(filter: CompiledFilter, after: string | null | undefined): Promise<AsyncIterable<QueueItem<Delivery>>>
  /** Tenant-scoped batching loaders (per request, or per event for subscriptions). */
  createLoaders(tenant: string): Loaders
  /** Called once per delivery handed to GraphQL execution. */
  onDelivered(delivery: Delivery): void
  nodes(): Promise<GatewayNodeInfo[]>
}

export interface ServicesOptions {
  readonly db: Db
  readonly models: ModelRegistry
  readonly registry: StreamRegistry
  readonly aggregates: AggregateRegistry
  readonly cursors: CursorCodec
  readonly metrics: Metrics
  now(): Promise<Position>
  nodes(): Promise<GatewayNodeInfo[]>
}

/** The resolvers' view of a node: subscriptions bound to verified cursors, loaders, delivery counting. */
export function createGatewayServices(options: ServicesOptions): GatewayServices {
  const { db, registry, cursors, metrics } = options
  const countBatch = (collection: string) => metrics.loaderBatches.inc({ collection })
  return {
    db,
    models: options.models,
    registry,
    aggregates: options.aggregates,
    cursors,
    now: options.now,
    async subscribe(filter, after) {
      // An empty string is a malformed cursor, not "no cursor".
      const position = after != null ? cursors.decode(after, { tenant: filter.tenant, collection: filter.collection }).position : undefined
      return registry.subscribe({ filter, after: position })
    },
    createLoaders: (tenant) => createLoaders(db, tenant, countBatch),
    onDelivered(delivery) {
      metrics.delivered(delivery.event.collection, delivery.event.wallTime)
    },
    nodes: options.nodes,
  }
}
