import type { Document, Filter } from 'mongodb'
import { badUserInput } from '../../errors.js'
import { builder } from '../builder.js'
import { compileOrderFilter } from '../../streams/filter-compiler.js'
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
      // The same validation and document semantics as a subscription's document filter.
      const { documentFilter } = compileOrderFilter(args.filter, ctx.auth.tenant)
      const query: Filter<Document> = { ...documentFilter, tenantId: { $eq: ctx.auth.tenant } }
      // The position is taken before the read: a later subscription re-sees, never misses, a concurrent write.
      const position = await ctx.services.now()
      const nodes = await ctx.services.db.collection('orders').find(query).sort({ _id: 1 }).limit(first).toArray()
      return { nodes, cursor: ctx.services.cursors.encode({ tenant: ctx.auth.tenant, collection: null, position }) }
    },
  }),
)
