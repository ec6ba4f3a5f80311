import { builder } from '../builder.js'
import { parseObjectId } from '../ids.js'
import { UserRef } from '../types/user.js'

builder.queryField('user', (t) =>
  t.field({
    type: UserRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.loaders.users.load(parseObjectId(args.id, 'id').toHexString()),
  }),
)
