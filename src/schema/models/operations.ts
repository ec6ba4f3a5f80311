import type { Document } from 'mongodb'
import { badUserInput } from '../../errors.js'
import type { Model, ModelRegistry } from '../../models/index.js'
import { compileChangeFilter, compileDocumentFilter } from '../../streams/filters/compiler.js'
import { objectIdArgument, stringArgument } from '../../streams/filters/arguments.js'
import type { Delivery } from '../../streams/stream-event.js'
import type { QueueItem } from '../../streams/subscriber-queue.js'
import type { Builder } from '../builder.js'
import type { GraphQLContext } from '../context.js'
import type { ModelInputs } from './inputs.js'
import type { ModelTypes } from './outputs.js'

interface Page {
  readonly nodes: Document[]
  readonly cursor: string
}

export const MAX_PAGE = 500

/** An error item ends the subscription as a `next` carrying the error (with its code), never a bare close. */
const unwrapItem = (item: QueueItem<Delivery>): Delivery => {
  if (item.error) throw item.error
  return item.value
}

const idKey = (model: Model, id: string) => (model.idType === 'ObjectId' ? objectIdArgument('id', id).toHexString() : stringArgument('id', id))

/** Per model: `<model>Changed(filter, after)`, `<model>(id)` and `<models>(where, first)`. */
export function addModelOperations(
  builder: Builder,
  registry: ModelRegistry,
  types: ModelTypes,
  inputs: ModelInputs,
  eventOf: (model: Model) => never,
): void {
  for (const model of registry.models) {
    const { names } = model
    builder.subscriptionField(names.subscription, (t) =>
      t.field({
        type: eventOf(model),
        description: `Changes of ${names.type} documents (collection \`${model.collection}\`) matching \`filter\`, in commit order, each exactly once. With \`after:\` (a cursor from an event, \`changeCursor\` or a page), first everything committed after it, then live. Errors: BAD_USER_INPUT, INVALID_CURSOR, CURSOR_EXPIRED, STREAM_INVALIDATED (collection dropped or renamed), SLOW_CONSUMER (resubscribe with your last cursor), SUBSCRIPTION_LIMIT`,
        args: {
          filter: t.arg({ type: inputs.changeFilter(model), description: 'Which changes to deliver; omit for all of your tenant' }),
          after: t.arg({ type: 'Cursor', description: 'Deliver every matching change committed after this cursor first (no gap, no duplicate)' }),
        },
        subscribe: (_root, args, ctx: GraphQLContext) =>
          ctx.services.subscribe(compileChangeFilter(model, args.filter, ctx.auth.tenant), args.after as string | null | undefined) as never,
        resolve: (item) => unwrapItem(item as QueueItem<Delivery>) as never,
      }),
    )

    builder.queryField(names.single, (t) =>
      t.field({
        type: types.object(names.type),
        nullable: true,
        description: `One ${names.type} by id; null when it does not exist or belongs to another tenant. BAD_USER_INPUT for a malformed id`,
        args: { id: t.arg.id({ required: true, description: `The document's id${model.idType === 'ObjectId' ? ' (24-hex)' : ''}` }) },
        resolve: (_root, args, ctx) => ctx.loaders.get(model).load(idKey(model, args.id)),
      }),
    )

    const PageRef = builder.objectRef<Page>(names.page).implement({
      description: `A page of ${names.type} documents and the position it was read at`,
      fields: (t) => ({
        nodes: t.field({ type: [types.object(names.type)], description: 'The documents, by ascending id', resolve: (p) => p.nodes }),
        cursor: t.field({
          type: 'Cursor',
          description: 'Taken before the read: subscribing with `after:` this misses nothing committed after the page was read',
          resolve: (p) => p.cursor,
        }),
      }),
    })
    const listFilter = inputs.listFilter(model)
    builder.queryField(names.list, (t) => {
      const first = t.arg.int({ description: `How many documents (1–${MAX_PAGE}, default 50)` })
      const where = t.arg({ type: inputs.where(model), description: 'Conditions on the documents' })
      const args = listFilter
        ? { filter: t.arg({ type: listFilter, description: 'Flat document conditions' }), first, where }
        : { where, first }
      return t.field({
        type: PageRef,
        description: `${names.type} documents of your tenant matching the conditions, with a cursor for "query, then subscribe" without a gap. BAD_USER_INPUT for invalid conditions`,
        args: args as never,
        resolve: async (_root, rawArgs, ctx) => {
          const a = rawArgs as { filter?: unknown; where?: unknown; first?: number | null }
          const count = a.first ?? 50
          if (!Number.isInteger(count) || count < 1 || count > MAX_PAGE) throw badUserInput(`first must be between 1 and ${MAX_PAGE}`)
          const query: Document = { ...compileDocumentFilter(model, a.filter, a.where) }
          const tenantQuery: Document = model.tenantField === null ? query : { $and: [{ [model.tenantField]: { $eq: ctx.auth.tenant } }, query] }
          // The position is taken before the read: a later subscription re-sees, never misses, a concurrent write.
          const position = await ctx.services.now()
          const nodes = await ctx.services.db.collection(model.collection).find(tenantQuery).sort({ _id: 1 }).limit(count).toArray()
          return { nodes, cursor: ctx.services.cursors.encode({ tenant: ctx.auth.tenant, collection: null, position }) }
        },
      })
    })
  }
}
