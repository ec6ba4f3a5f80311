import { compileUserFilter } from '../../streams/filter-compiler.js'
import { builder } from '../builder.js'
import { UserChangeEventRef } from '../types/change-events.js'
import { UserProfileFilterInput } from '../types/filters.js'
import { unwrapItem } from './unwrap.js'

builder.subscriptionField('userProfileUpdated', (t) =>
  t.field({
    type: UserChangeEventRef,
    args: { filter: t.arg({ type: UserProfileFilterInput }), after: t.arg({ type: 'Cursor' }) },
    subscribe: (_root, args, ctx) => ctx.services.subscribe(compileUserFilter(args.filter, ctx.auth.tenant), args.after),
    resolve: unwrapItem,
  }),
)
