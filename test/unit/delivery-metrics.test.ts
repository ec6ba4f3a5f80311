import { Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { LATENCY_BUCKETS, TalliedHistogram, createMetrics } from '../../src/observability/metrics.js'

/** The lines of one metric family in a registry's Prometheus text. */
const family = (text: string, name: string) => text.split('\n').filter((line) => line.startsWith(name) || line.includes(` ${name} `))

describe('per-delivery metrics', () => {
  it('expose the latency histogram exactly as prom-client does for the same observations', async () => {
    const ours = new Registry()
    const tallied = new TalliedHistogram('x_latency_seconds', 'Seconds from commit to send', LATENCY_BUCKETS)
    ours.registerMetric(tallied as unknown as Parameters<Registry['registerMetric']>[0])
    const theirs = new Registry()
    const reference = new Histogram({ name: 'x_latency_seconds', help: 'Seconds from commit to send', buckets: [...LATENCY_BUCKETS], registers: [theirs] })
    // Bucket edges, values between them, below the first and above the last bound, zero and a negative clock skew.
    const values = [0, -0.002, 0.001, 0.0010001, 0.0025, 0.003, 0.05, 0.07, 1, 9.99, 10, 10.5, 3600, ...Array.from({ length: 500 }, (_, i) => (i * 37) % 11_000 / 1000)]
    for (const v of values) {
      tallied.observe(v)
      reference.observe(v)
    }
    expect(await ours.metrics()).toBe(await theirs.metrics())
    // As JSON too (prom-client adds an empty exemplar to each bucket).
    const series = async (registry: Registry) =>
      (await registry.getMetricsAsJSON()).flatMap((m) => m.values.map((v) => ({ name: m.name, type: m.type, labels: v.labels, value: v.value, metricName: (v as { metricName?: string }).metricName })))
    expect(await series(ours)).toEqual(await series(theirs))

    ours.resetMetrics()
    theirs.resetMetrics()
    tallied.observe(0.2)
    reference.observe(0.2)
    expect(await ours.metrics()).toBe(await theirs.metrics())
  })

  it('count deliveries by kind and their latency on /metrics, across scrapes', async () => {
    const metrics = createMetrics()
    const committed = new Date(Date.now() - 30)
    metrics.delivered('orders', committed)
    metrics.delivered('orders', committed)
    metrics.delivered('users', undefined)
    let text = await metrics.registry.metrics()
    expect(family(text, 'changegate_events_delivered_total')).toEqual(
      expect.arrayContaining(['changegate_events_delivered_total{kind="orders"} 2', 'changegate_events_delivered_total{kind="users"} 1']),
    )
    expect(text).toContain('changegate_delivery_latency_seconds_count 2')
    // 30 ms (plus the time this test takes) is above the 25 ms bound and well below 10 s.
    expect(text).toContain('changegate_delivery_latency_seconds_bucket{le="0.025"} 0')
    expect(text).toContain('changegate_delivery_latency_seconds_bucket{le="10"} 2')

    // A later scrape shows totals, not what happened since the last one.
    metrics.delivered('orders', committed)
    text = await metrics.registry.metrics()
    expect(text).toContain('changegate_events_delivered_total{kind="orders"} 3')
    expect(text).toContain('changegate_events_delivered_total{kind="users"} 1')
    expect(text).toContain('changegate_delivery_latency_seconds_count 3')
  })
})
