/**
 * What a dashboard does without live aggregates: it receives every raw change of the documents its panel covers
 * and keeps the totals itself, count and sum of `totalAmount` per (window bucket, group), moving a document's
 * contribution with the change's pre- and post-image. For a window on commit time the pre-image does not say when the
 * document last changed, so the client remembers each document's bucket from the changes it saw.
 */
import type { Combination } from './layout.js'

export interface OrderImage {
  readonly status: string
  readonly currency: string | null
  readonly totalAmount: number
  readonly createdAt: string
}

export interface ChangeEvent {
  readonly transition: 'ENTERED' | 'UPDATED' | 'LEFT'
  readonly clusterTime: string
  readonly documentId: string
  readonly order: OrderImage | null
  readonly orderBefore: OrderImage | null
}

interface Total {
  count: number
  sum: number
}

export interface ClientTotals {
  apply(event: ChangeEvent): void
  /** Non-empty (bucket, group) totals held. */
  readonly size: number
}

export function createClientTotals(combination: Combination): ClientTotals {
  const { groupBy, window } = combination
  const slide = window ? (window.slide ?? window.size) : 0
  const totals = new Map<string, Total>()
  const lastBucket = window && !window.on ? new Map<string, number>() : null
  const bucketOf = (seconds: number) => Math.floor(seconds / slide) * slide
  const groupOf = (doc: OrderImage) => groupBy.map((field) => (field === 'STATUS' ? doc.status : doc.currency)).join('|')

  const move = (key: string, amount: number, sign: 1 | -1) => {
    const total = totals.get(key) ?? { count: 0, sum: 0 }
    total.count += sign
    total.sum += sign * amount
    if (total.count === 0) totals.delete(key)
    else totals.set(key, total)
  }

  return {
    apply(event) {
      const before = event.transition === 'ENTERED' ? null : event.orderBefore
      const after = event.transition === 'LEFT' ? null : event.order
      if (before) {
        const bucket = !window ? 0 : lastBucket ? lastBucket.get(event.documentId) : bucketOf(Date.parse(before.createdAt) / 1000)
        // A document last changed before the client connected: its bucket is unknown here.
        if (bucket !== undefined) move(`${bucket}/${groupOf(before)}`, before.totalAmount, -1)
      }
      if (after) {
        const bucket = !window ? 0 : lastBucket ? bucketOf(Date.parse(event.clusterTime) / 1000) : bucketOf(Date.parse(after.createdAt) / 1000)
        move(`${bucket}/${groupOf(after)}`, after.totalAmount, 1)
        lastBucket?.set(event.documentId, bucket)
      } else lastBucket?.delete(event.documentId)
    },
    get size() {
      return totals.size
    },
  }
}
