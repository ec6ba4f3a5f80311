import type { Document, Filter } from 'mongodb'
import { badUserInput } from '../../errors.js'
import { builder } from '../builder.js'
import { parseObjectId } from '../ids.js'
import { OrderFilterInput } from '../types/filters.js'
import { OrderRef } from '../types/order.js'

interface OrderPage {
  readonly nodes: Document[]
  readonly cursor: string
}

const OrderPageRef = builder.objectRef<OrderPage>('OrderPage').implement({
  fields: (t) => ({
    nodes: t.field({ type: [OrderRef], resolve: (p) => p.nodes }),
    cursor: t.field({
      type: 'Cursor',
      description: 'Subscribing with `after:` this misses nothing committed after the page was read',
      resolve: (p) => p.cursor,
    }),
  }),
})

const MAX_PAGE = 500

builder.queryField('order', (t) =>
  t.field({
    type: OrderRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.loaders.orders.load(parseObjectId(args.id, 'id').toHexString()),
  }),
)

builder.queryField('orders', (t) =>
  t.field({
    type: OrderPageRef,
    args: { filter: t.arg({ type: OrderFilterInput }), first: t.arg.int() },
    resolve: async (_root, args, ctx) => {
      const first = args.first ?? 50
      if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badUserInput(`first must be between 1 and ${MAX_PAGE}`)
      const query: Filter<Document> = { tenantId: ctx.auth.tenant }
      const f = args.filter
      if (f?.status) {
        if (f.status.length === 0) throw badUserInput('filter.status must not be empty')
        query.status = { $in: f.status.map((s) => s.toLowerCase()) }
      }
      if (f?.minTotal != null || f?.maxTotal != null) {
        const range: Document = {}
        if (f.minTotal != null) range.$gte = f.minTotal
        if (f.maxTotal != null) range.$lte = f.maxTotal
        query.totalAmount = range
      }
      if (f?.customerId != null) query.customerId = parseObjectId(f.customerId, 'filter.customerId')
      if (f?.region != null) query.region = { $eq: f.region }
      // The position is taken before the read: a later subscription re-sees, never misses, a concurrent write.
      const position = await ctx.services.now()
      const nodes = await ctx.services.db.collection('orders').find(query).sort({ _id: 1 }).limit(first).toArray()
      return { nodes, cursor: ctx.services.cursors.encode({ tenant: ctx.auth.tenant, collection: null, position }) }
    },
  }),
)
