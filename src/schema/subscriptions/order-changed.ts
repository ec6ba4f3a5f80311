import { compileOrderFilter } from '../../streams/filter-compiler.js'
import { builder } from '../builder.js'
import { OrderChangeEventRef } from '../types/change-events.js'
import { OrderChangeFilterInput } from '../types/filters.js'
import { unwrapItem } from './unwrap.js'

builder.subscriptionField('orderChanged', (t) =>
  t.field({
    type: OrderChangeEventRef,
    args: { filter: t.arg({ type: OrderChangeFilterInput }), after: t.arg({ type: 'Cursor' }) },
    subscribe: (_root, args, ctx) => ctx.services.subscribe(compileOrderFilter(args.filter, ctx.auth.tenant), args.after),
    resolve: unwrapItem,
  }),
)
