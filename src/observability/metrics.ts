import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Gateway metrics on a registry of their own (so several gateways in one process, as in tests, never share
 * series). Every name starts with `changegate_`; `/metrics` serves `registry` as Prometheus text.
 */
export interface Metrics {
  readonly registry: Registry
  /** The `Content-Type` of `registry.metrics()`. */
  readonly contentType: string
  /** Live subscriptions, by `kind` (the collection). */
  readonly subscriptionsActive: Gauge<'kind'>
  /** Open WebSocket connections. */
  readonly wsConnections: Gauge
  /** Shared change streams, by `state` (STARTING, RUNNING, RESUMING, FAILED, STOPPED). */
  readonly streamsByState: Gauge<'state'>
  /** Change events read from MongoDB (or a fan-out channel), by `stream` key. */
  readonly eventsReceived: Counter<'stream'>
  /** Events sent to subscribers, by `kind`. */
  readonly eventsDelivered: Counter<'kind'>
  /** Seconds from the change's commit (wall time) to its delivery. */
  readonly deliveryLatency: Histogram
  /** Seconds between now and the last event's commit, by `stream`. */
  readonly streamLag: Gauge<'stream'>
  /** Times a stream resumed after an error, by `stream`. */
  readonly streamResumes: Counter<'stream'>
  /** Errors sent to clients, by `extensions.code`. */
  readonly errors: Counter<'code'>
  /** Batched lookups of related documents (DataLoader batches), by `collection`. */
  readonly loaderBatches: Counter<'collection'>
  /** Live aggregates held on this node (`what="aggregates"`) and their subscribers (`what="subscribers"`). */
  readonly aggregatesActive: Gauge<'what'>
  /** Live aggregates computed again after their own subscription fell behind, by the `code` it failed with. */
  readonly aggregateRebuilds: Counter<'code'>
}

/** 1 ms to 10 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const

export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'changegate_' })
  const registers = [registry]

  return {
    registry,
    contentType: registry.contentType,
    subscriptionsActive: new Gauge({
      name: 'changegate_subscriptions_active',
      help: 'Live subscriptions by kind',
      labelNames: ['kind'],
      registers,
    }),
    wsConnections: new Gauge({ name: 'changegate_ws_connections', help: 'Open WebSocket connections', registers }),
    aggregatesActive: new Gauge({
      name: 'changegate_aggregates_active',
      help: 'Live aggregates held on this node (what="aggregates") and their subscribers (what="subscribers")',
      labelNames: ['what'],
      registers,
    }),
    streamsByState: new Gauge({
      name: 'changegate_streams',
      help: 'Shared change streams by state',
      labelNames: ['state'],
      registers,
    }),
    eventsReceived: new Counter({
      name: 'changegate_events_received_total',
      help: 'Change events received, by stream',
      labelNames: ['stream'],
      registers,
    }),
    eventsDelivered: new Counter({
      name: 'changegate_events_delivered_total',
      help: 'Events delivered to subscribers, by kind',
      labelNames: ['kind'],
      registers,
    }),
    deliveryLatency: new Histogram({
      name: 'changegate_delivery_latency_seconds',
      help: 'Seconds from commit to send',
      buckets: [...LATENCY_BUCKETS],
      registers,
    }),
    streamLag: new Gauge({
      name: 'changegate_stream_lag_seconds',
      help: 'Seconds behind the latest commit, by stream',
      labelNames: ['stream'],
      registers,
    }),
    streamResumes: new Counter({
      name: 'changegate_stream_resumes_total',
      help: 'Stream resumes after errors, by stream',
      labelNames: ['stream'],
      registers,
    }),
    errors: new Counter({
      name: 'changegate_errors_total',
      help: 'Errors sent to clients, by code',
      labelNames: ['code'],
      registers,
    }),
    loaderBatches: new Counter({
      name: 'changegate_loader_batches_total',
      help: 'Batched lookups of related documents, by collection',
      labelNames: ['collection'],
      registers,
    }),
    aggregateRebuilds: new Counter({
      name: 'changegate_aggregate_rebuilds_total',
      help: 'Live aggregates computed again after their own subscription fell behind, by the code it failed with',
      labelNames: ['code'],
      registers,
    }),
  }
}
