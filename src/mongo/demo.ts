import { ObjectId, type Collection, type Db, type Document } from 'mongodb'

export const DEMO_TENANTS = ['acme', 'globex'] as const
const REGIONS = ['eu-west', 'us-east', 'ap-south'] as const
const TIERS = ['standard', 'gold', 'platinum'] as const

/** Time between two demo writes; tenants take turns, so each tenant sees a write every 2 × this. */
export const DEMO_INTERVAL_MS = 800

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]

function demoOrder(tenantId: string, customerId: ObjectId, status = 'pending'): Document {
  const items = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, (_, n) => ({
    productId: `sku-${100 + Math.floor(Math.random() * 50)}`,
    quantity: 1 + n,
    unitPrice: Math.round(Math.random() * 10_000) / 100,
  }))
  const now = new Date()
  return {
    tenantId,
    customerId,
    status,
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

interface DemoContext {
  tenantId: string
  otherTenant: string
  orders: Collection
  users: Collection
}

/** One demo write. Resolves to false when no document fitted it (the caller then writes something else). */
type DemoStep = (ctx: DemoContext) => Promise<boolean>

const randomCustomer = async ({ users, tenantId }: DemoContext): Promise<ObjectId> => {
  const all = await users.find({ tenantId }, { projection: { _id: 1 } }).toArray()
  return (pick(all)?._id as ObjectId | undefined) ?? new ObjectId()
}

const insert = (status: string): DemoStep => async (ctx) => {
  await ctx.orders.insertOne(demoOrder(ctx.tenantId, await randomCustomer(ctx), status))
  return true
}

/** Moves the tenant's longest-untouched order in one of `from` to `to` (a lifecycle, oldest first). */
const setStatus = (from: string[], to: string): DemoStep => async ({ orders, tenantId }) => {
  const moved = await orders.findOneAndUpdate(
    { tenantId, status: { $in: from } },
    { $set: { status: to, updatedAt: new Date() } },
    { sort: { updatedAt: 1 } },
  )
  return moved !== null
}

const touch: DemoStep = async ({ orders, tenantId }) =>
  (await orders.findOneAndUpdate(
    { tenantId, status: { $in: ['shipped', 'delivered'] } },
    { $set: { region: pick(REGIONS), updatedAt: new Date() }, $inc: { totalAmount: 5 } },
    { sort: { updatedAt: 1 } },
  )) !== null

const moveTenant: DemoStep = async ({ orders, tenantId, otherTenant }) =>
  (await orders.findOneAndUpdate(
    { tenantId, status: { $in: ['shipped', 'delivered'] } },
    { $set: { tenantId: otherTenant, updatedAt: new Date() } },
    { sort: { updatedAt: 1 } },
  )) !== null

const remove = (statuses: string[]): DemoStep => async ({ orders, tenantId }) =>
  (await orders.findOneAndDelete({ tenantId, status: { $in: statuses } }, { sort: { updatedAt: 1 } })) !== null

const editProfile: DemoStep = async ({ users, tenantId }) =>
  (await users.findOneAndUpdate({ tenantId }, { $set: { tier: pick(TIERS), 'profile.lastSeen': new Date() } }, { sort: { 'profile.lastSeen': 1 } })) !==
  null

/**
 * One tenant's cycle. Steps marked `visible` change an order that is or becomes SHIPPED or DELIVERED, so the
 * README's subscription (`status: [SHIPPED, DELIVERED]`) sees them (ENTERED, UPDATED or LEFT); no two
 * invisible steps follow each other, and a visible step that finds no order inserts a shipped one instead.
 */
const CYCLE: ReadonlyArray<{ step: DemoStep; visible: boolean }> = [
  { step: insert('pending'), visible: false },
  { step: setStatus(['pending', 'confirmed'], 'shipped'), visible: true }, // ENTERED
  { step: setStatus(['pending'], 'confirmed'), visible: false },
  { step: setStatus(['shipped'], 'delivered'), visible: true }, // UPDATED
  { step: editProfile, visible: false },
  { step: touch, visible: true }, // UPDATED
  { step: insert('pending'), visible: false },
  { step: setStatus(['delivered'], 'returned'), visible: true }, // LEFT
  { step: setStatus(['pending'], 'cancelled'), visible: false },
  { step: setStatus(['confirmed', 'pending'], 'shipped'), visible: true }, // ENTERED
  { step: moveTenant, visible: true }, // LEFT here, ENTERED for the other tenant
  { step: remove(['returned', 'cancelled']), visible: false },
  { step: remove(['delivered']), visible: true }, // LEFT
]

/**
 * Writes varied demo traffic until stopped: inserts, status changes through the order lifecycle (including to
 * SHIPPED and DELIVERED), edits, tenant moves, deletes and profile edits. Tenants take turns, one write every
 * `intervalMs`; every transition (ENTERED, UPDATED, LEFT) occurs in each tenant's cycle (13 writes).
 */
export function startDemoTraffic(db: Db, options: { intervalMs?: number; onError?: (e: unknown) => void } = {}): { stop(): void } {
  const intervalMs = options.intervalMs ?? DEMO_INTERVAL_MS
  const orders = db.collection('orders')
  const users = db.collection('users')
  let tick = 0
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  const run = async () => {
    const turn = tick++
    const tenantIndex = turn % DEMO_TENANTS.length
    const ctx: DemoContext = {
      tenantId: DEMO_TENANTS[tenantIndex],
      otherTenant: DEMO_TENANTS[(tenantIndex + 1) % DEMO_TENANTS.length],
      orders,
      users,
    }
    const { step, visible } = CYCLE[Math.floor(turn / DEMO_TENANTS.length) % CYCLE.length]
    if (!(await step(ctx)) && visible) await insert('shipped')(ctx)
  }
  const schedule = () => {
    if (stopped) return
    timer = setTimeout(() => {
      run()
        .catch((e: unknown) => options.onError?.(e))
        .finally(schedule)
    }, intervalMs)
    timer.unref()
  }
  schedule()
  return {
    stop() {
      stopped = true
      clearTimeout(timer)
    },
  }
}
