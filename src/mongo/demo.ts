import { ObjectId, type Db, type Document } from 'mongodb'

export const DEMO_TENANTS = ['acme', 'globex'] as const
const STATUSES = ['pending', 'confirmed', 'shipped', 'delivered', 'cancelled', 'returned'] as const
const REGIONS = ['eu-west', 'us-east', 'ap-south'] as const
const TIERS = ['standard', 'gold', 'platinum'] as const

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]

function demoOrder(tenantId: string, customerId: ObjectId): Document {
  const items = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, (_, n) => ({
    productId: `sku-${100 + Math.floor(Math.random() * 50)}`,
    quantity: 1 + n,
    unitPrice: Math.round(Math.random() * 10_000) / 100,
  }))
  const now = new Date()
  return {
    tenantId,
    customerId,
    status: 'pending',
    totalAmount: Math.round(items.reduce((sum, i) => sum + i.quantity * i.unitPrice, 0) * 100) / 100,
    currency: 'EUR',
    region: pick(REGIONS),
    items,
    createdAt: now,
    updatedAt: now,
  }
}

/** Seeds two tenants with a few users and orders, unless data is already there. */
export async function seedDemo(db: Db): Promise<void> {
  if ((await db.collection('users').countDocuments({}, { limit: 1 })) > 0) return
  for (const tenantId of DEMO_TENANTS) {
    const users = Array.from({ length: 5 }, (_, n) => ({
      _id: new ObjectId(),
      tenantId,
      email: `user${n + 1}@${tenantId}.example`,
      name: `${tenantId} user ${n + 1}`,
      tier: pick(TIERS),
      profile: { locale: 'en', avatar: null },
      preferences: { newsletter: n % 2 === 0 },
    }))
    await db.collection('users').insertMany(users)
    await db.collection('orders').insertMany(users.flatMap((u) => [demoOrder(tenantId, u._id), demoOrder(tenantId, u._id)]))
  }
}

/** Writes demo traffic (new orders, status changes, profile edits) until stopped. */
export function startDemoTraffic(db: Db, intervalMs = 2000, onError?: (e: unknown) => void): { stop(): void } {
  const orders = db.collection('orders')
  const users = db.collection('users')
  const tick = async () => {
    const tenantId = pick(DEMO_TENANTS)
    const roll = Math.random()
    if (roll < 0.35) {
      const [user] = await users.aggregate([{ $match: { tenantId } }, { $sample: { size: 1 } }]).toArray()
      if (user) await orders.insertOne(demoOrder(tenantId, user._id as ObjectId))
    } else if (roll < 0.85) {
      const [order] = await orders.aggregate([{ $match: { tenantId } }, { $sample: { size: 1 } }]).toArray()
      if (order) await orders.updateOne({ _id: order._id }, { $set: { status: pick(STATUSES), updatedAt: new Date() } })
    } else {
      const [user] = await users.aggregate([{ $match: { tenantId } }, { $sample: { size: 1 } }]).toArray()
      if (user) await users.updateOne({ _id: user._id }, { $set: { tier: pick(TIERS), 'profile.lastSeen': new Date() } })
    }
  }
  const timer = setInterval(() => tick().catch((e: unknown) => onError?.(e)), intervalMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
