/** The small order-like documents every phase writes (about 230 bytes of BSON each). */
import { ObjectId } from 'bson'

const STATUSES = ['pending', 'paid', 'shipped', 'delivered'] as const

export interface OrderDocument {
  _id?: ObjectId
  orderId: number
  customerId: string
  status: (typeof STATUSES)[number]
  items: { sku: string; quantity: number; price: number }[]
  total: number
  currency: string
  createdAt: Date
  /** `createdAt` with sub-millisecond resolution (wall-clock ms), for latency measurement. */
  stampMs: number
}

export function orderDocument(orderId: number, stampMs: number): OrderDocument {
  const price = 5 + (orderId % 97) * 0.25
  const items = [
    { sku: `SKU-${(orderId * 7) % 1000}`, quantity: 1 + (orderId % 3), price },
    { sku: `SKU-${(orderId * 13) % 1000}`, quantity: 1, price: price + 1.5 },
  ]
  return {
    orderId,
    customerId: `customer-${orderId % 5000}`,
    status: STATUSES[orderId % STATUSES.length],
    items,
    total: items.reduce((sum, item) => sum + item.quantity * item.price, 0),
    currency: 'EUR',
    createdAt: new Date(Math.floor(stampMs)),
    stampMs,
  }
}
