import { readdir, stat } from 'node:fs/promises'
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

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
  /**
   * Counts one event sent to a subscriber: `changegate_events_delivered_total` by `kind` (the collection) and,
   * when the commit's wall time is known, `changegate_delivery_latency_seconds` (commit to send).
   */
  delivered(kind: string, committedAt: Date | undefined): void
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

const OPEN_FDS = 'changegate_process_open_fds'
const HANDLES = 'changegate_nodejs_active_handles'
const HANDLES_TOTAL = 'changegate_nodejs_active_handles_total'
const RESOURCES = 'changegate_nodejs_active_resources'
const RESOURCES_TOTAL = 'changegate_nodejs_active_resources_total'

export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'changegate_' })
  countOpenFiles(registry)
  listHandlesOncePerScrape(registry)
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
    delivered: deliveryTally(registry),
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

/**
 * Per-delivery metrics in plain numbers, handed over when the registry is read (a scrape). A delivery happens tens
 * of thousands of times a second on a busy node; prom-client's `inc` and `observe` validate and hash their labels
 * and allocate on every call (together 3.4 % of the gateway's busy time in a CPU profile of the fan-out benchmark's
 * S2 at 10,000 to 40,000 deliveries/s).
 */
function deliveryTally(registry: Registry): Metrics['delivered'] {
  const pending = new Map<string, number>()
  new Counter({
    name: 'changegate_events_delivered_total',
    help: 'Events delivered to subscribers, by kind',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      for (const [kind, n] of pending) this.inc({ kind }, n)
      pending.clear()
    },
  })
  const latency = new TalliedHistogram('changegate_delivery_latency_seconds', 'Seconds from commit to send', LATENCY_BUCKETS)
  // Registered as what the registry reads: prom-client types its registry for its own metric classes only.
  registry.registerMetric(latency as unknown as Parameters<Registry['registerMetric']>[0])
  return (kind, committedAt) => {
    pending.set(kind, (pending.get(kind) ?? 0) + 1)
    if (committedAt) latency.observe((Date.now() - committedAt.getTime()) / 1000)
  }
}

interface SeriesValue {
  readonly labels: Record<string, string | number>
  readonly value: number
  readonly metricName: string
}

/**
 * A histogram without labels that counts into an array: the same exposition as prom-client's `Histogram`
 * (cumulative `_bucket` series with `le`, then `_sum` and `_count`), registered as a metric of the registry.
 */
export class TalliedHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #bounds: readonly number[]
  /** Observations per bucket, not cumulative; the last one is `+Inf`. */
  #counts: number[]
  #sum = 0

  constructor(
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
  ) {
    this.#bounds = [...bounds].sort((a, b) => a - b)
    this.#counts = new Array<number>(this.#bounds.length + 1).fill(0)
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]) i++
    this.#counts[i]++
    this.#sum += value
  }

  /** What prom-client's registry reads of a metric (its own `get()` shape). */
  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: SeriesValue[] }> {
    const values: SeriesValue[] = []
    let cumulative = 0
    for (let i = 0; i <= this.#bounds.length; i++) {
      cumulative += this.#counts[i]
      values.push({ labels: { le: i < this.#bounds.length ? this.#bounds[i] : '+Inf' }, value: cumulative, metricName: `${this.name}_bucket` })
    }
    values.push({ labels: {}, value: this.#sum, metricName: `${this.name}_sum` })
    values.push({ labels: {}, value: cumulative, metricName: `${this.name}_count` })
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator })
  }

  reset(): void {
    this.#counts.fill(0)
    this.#sum = 0
  }
}

/**
 * prom-client counts open file descriptors (Linux) by listing /proc/self/fd synchronously at every scrape: one entry
 * per socket, so a node holding 5,000 WebSockets blocked its event loop ~20 ms per scrape (a CPU profile of the
 * fan-out benchmark), and ten times as many would block it for ten times as long. The same gauge, from the size
 * Linux (6.2 and later) reports for /proc/self/fd, which is the count, without listing anything; on older kernels
 * (size 0) from a listing off the event loop.
 */
function countOpenFiles(registry: Registry): void {
  if (!registry.getSingleMetric(OPEN_FDS)) return
  registry.removeSingleMetric(OPEN_FDS)
  new Gauge({
    name: OPEN_FDS,
    help: 'Number of open file descriptors.',
    registers: [registry],
    async collect() {
      try {
        const { size } = await stat('/proc/self/fd')
        // A listing counts the descriptor it reads the directory with.
        this.set(size > 0 ? size : (await readdir('/proc/self/fd')).length - 1)
      } catch {
        // Not Linux, or /proc unreadable: the gauge keeps its last value.
      }
    },
  })
}

/**
 * A value computed at most once per event-loop turn. A scrape starts collecting every metric in one turn
 * (`Registry.metrics` calls each one's `get` before awaiting any), so the metrics sharing it share one computation.
 */
function oncePerTurn<T>(compute: () => T): () => T {
  let value: T | undefined
  let fresh = false
  const expire = () => {
    fresh = false
    value = undefined
  }
  return () => {
    if (!fresh) {
      value = compute()
      fresh = true
      setImmediate(expire)
    }
    return value as T
  }
}

/**
 * Counts items by key in runs of equal keys: a node's handles and resources come in long runs of one kind (its
 * sockets), so a run costs one map update. Items whose key is undefined are left out.
 */
function countInRuns<T, K>(items: readonly T[], keyOf: (item: T) => K | undefined): Map<K, number> {
  const counts = new Map<K, number>()
  let current: K | undefined
  let run = 0
  for (const item of items) {
    const key = keyOf(item)
    if (key === undefined) continue
    if (key !== current) {
      if (run) counts.set(current!, (counts.get(current!) ?? 0) + run)
      current = key
      run = 0
    }
    run++
  }
  if (run) counts.set(current!, (counts.get(current!) ?? 0) + run)
  return counts
}

/** Handles by their constructor's name, as prom-client groups them (those without a constructor are left out). */
function countByConstructor(handles: readonly unknown[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const [constructor, count] of countInRuns(handles, (handle) => (handle as { constructor?: unknown } | null | undefined)?.constructor)) {
    // As prom-client names them: an object key, so a constructor without a string name still gets a label value.
    const name = String((constructor as { name?: unknown }).name)
    counts.set(name, (counts.get(name) ?? 0) + count)
  }
  return counts
}

/**
 * prom-client lists the process's active handles twice per scrape (by type, then the total) and its active resources
 * twice: each walk makes an entry per socket, so at 5,000 WebSockets these four were ~6.5 ms of a ~12 ms scrape, on
 * the event loop (`bench/results/metrics-scrape.md`). The same four gauges (names, help, labels and values as
 * prom-client's), from one walk of each per scrape.
 */
function listHandlesOncePerScrape(registry: Registry): void {
  const names = [HANDLES, HANDLES_TOTAL, RESOURCES, RESOURCES_TOTAL]
  if (!names.every((name) => registry.getSingleMetric(name))) return
  for (const name of names) registry.removeSingleMetric(name)
  const registers = [registry]
  const handles = oncePerTurn(() => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles())
  const resources = oncePerTurn(() => process.getActiveResourcesInfo())
  const setCounts = (gauge: Gauge<'type'>, counts: Map<string, number>) => {
    gauge.reset()
    for (const [type, count] of counts) gauge.set({ type }, count)
  }
  new Gauge({
    name: HANDLES,
    help: 'Number of active libuv handles grouped by handle type. Every handle type is C++ class name.',
    labelNames: ['type'],
    registers,
    collect() {
      setCounts(this, countByConstructor(handles()))
    },
  })
  new Gauge({
    name: HANDLES_TOTAL,
    help: 'Total number of active handles.',
    registers,
    collect() {
      this.set(handles().length)
    },
  })
  new Gauge({
    name: RESOURCES,
    help: 'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.',
    labelNames: ['type'],
    registers,
    collect() {
      setCounts(this, countInRuns(resources(), (type) => type))
    },
  })
  new Gauge({
    name: RESOURCES_TOTAL,
    help: 'Total number of active resources.',
    registers,
    collect() {
      this.set(resources().length)
    },
  })
}
