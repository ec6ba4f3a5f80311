import { describe, expect, it } from 'vitest'
import { unansweredPingLimit } from '../../src/server/ws-adapter.js'

describe('unansweredPingLimit', () => {
  it('judges a peer dead at the first ping after its previous one went unanswered when there is no slow-consumer timeout', () => {
    expect(unansweredPingLimit(15_000)).toBe(1)
    expect(unansweredPingLimit(15_000, 0)).toBe(1)
  })

  it('with the defaults (ping every 15 s, slow consumers ended after 30 s): dead after 3 unanswered pings, 45 s', () => {
    expect(unansweredPingLimit(15_000, 30_000) * 15_000).toBe(45_000)
  })

  it('always leaves the slow-consumer timeout, its once-a-second check and a ping interval before a peer is judged dead', () => {
    for (const keepAliveMs of [200, 1000, 7000, 15_000, 60_000]) {
      for (const slowConsumerTimeoutMs of [1, 500, 1000, 2000, 29_999, 30_000, 45_000, 300_000]) {
        const deadAfterMs = unansweredPingLimit(keepAliveMs, slowConsumerTimeoutMs) * keepAliveMs
        expect(deadAfterMs).toBeGreaterThanOrEqual(slowConsumerTimeoutMs + keepAliveMs)
        // The registry looks for stalled subscriptions every second (or every timeout, if shorter).
        expect(deadAfterMs).toBeGreaterThanOrEqual(slowConsumerTimeoutMs + 1000)
      }
    }
  })
})
