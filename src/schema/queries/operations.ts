import { forbidden } from '../../errors.js'
import type { SharedStreamStatus } from '../../streams/shared-stream.js'
import type { GatewayNodeInfo } from '../../services.js'
import type { GraphQLContext } from '../context.js'
import { builder } from '../builder.js'
import { toRelaxed } from '../ejson.js'
import { FilterLocationEnum, StreamStateEnum } from '../types/enums.js'
import { planSubscription, type SubscriptionPlan } from './explain.js'

const requireAdmin = (ctx: GraphQLContext) => {
  if (!ctx.auth.scopes.has('admin')) throw forbidden()
}

const StreamStatusRef = builder.objectRef<{ status: SharedStreamStatus; cursor: string | null }>('StreamStatus').implement({
  fields: (t) => ({
    key: t.id({ resolve: (s) => s.status.key }),
    collection: t.string({ resolve: (s) => s.status.collection }),
    pipeline: t.field({ type: 'JSON', resolve: (s) => toRelaxed(s.status.pipeline) }),
    state: t.field({ type: StreamStateEnum, resolve: (s) => s.status.state }),
    ownerNode: t.string({ nullable: true, description: "Owner's CHANGEGATE_NODE_ID", resolve: (s) => s.status.ownerNode }),
    epoch: t.float({ nullable: true, description: "Owner's fencing epoch (multi-node only)", resolve: (s) => s.status.epoch }),
    subscribers: t.int({ resolve: (s) => s.status.subscribers }),
    eventsReceived: t.float({ resolve: (s) => s.status.eventsReceived }),
    errors: t.int({ resolve: (s) => s.status.errors }),
    resumes: t.int({ resolve: (s) => s.status.resumes }),
    lastEventAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.status.lastEventAt }),
    lagMs: t.float({ nullable: true, resolve: (s) => s.status.lagMs }),
    resumeToken: t.field({ type: 'Cursor', nullable: true, resolve: (s) => s.cursor }),
    startedAt: t.field({ type: 'DateTime', resolve: (s) => s.status.startedAt }),
  }),
})

const GatewayNodeRef = builder.objectRef<GatewayNodeInfo>('GatewayNode').implement({
  fields: (t) => ({
    id: t.id({ resolve: (n) => n.id }),
    address: t.string({ resolve: (n) => n.address }),
    startedAt: t.field({ type: 'DateTime', resolve: (n) => n.startedAt }),
    heartbeatAgeMs: t.float({ resolve: (n) => n.heartbeatAgeMs }),
    connections: t.int({ resolve: (n) => n.connections }),
    subscriptions: t.int({ resolve: (n) => n.subscriptions }),
    ownedStreams: t.stringList({ resolve: (n) => [...n.ownedStreams] }),
  }),
})

const SubscriptionPlanRef = builder.objectRef<SubscriptionPlan>('SubscriptionPlan').implement({
  fields: (t) => ({
    streamKey: t.id({ resolve: (p) => p.streamKey }),
    collection: t.string({ resolve: (p) => p.collection }),
    pipeline: t.field({ type: 'JSON', resolve: (p) => toRelaxed(p.pipeline) }),
    filterRunsIn: t.field({ type: FilterLocationEnum, resolve: (p) => p.filterRunsIn }),
  }),
})

builder.queryField('changeCursor', (t) =>
  t.field({
    type: 'Cursor',
    description: 'The current position: subscribing with `after:` this cursor misses nothing committed later',
    resolve: async (_root, _args, ctx) =>
      ctx.services.cursors.encode({ tenant: ctx.auth.tenant, collection: null, position: await ctx.services.now() }),
  }),
)

builder.queryField('streams', (t) =>
  t.field({
    type: [StreamStatusRef],
    description: 'Requires scope admin',
    resolve: (_root, _args, ctx) => {
      requireAdmin(ctx)
      return ctx.services.registry.statuses().map((status) => ({
        status,
        cursor: status.position
          ? ctx.services.cursors.encode({ tenant: ctx.auth.tenant, collection: status.collection, position: status.position })
          : null,
      }))
    },
  }),
)

builder.queryField('gatewayNodes', (t) =>
  t.field({
    type: [GatewayNodeRef],
    description: 'Requires scope admin',
    resolve: (_root, _args, ctx) => {
      requireAdmin(ctx)
      return ctx.services.nodes()
    },
  }),
)

builder.queryField('explainSubscription', (t) =>
  t.field({
    type: SubscriptionPlanRef,
    args: { query: t.arg.string({ required: true }), variables: t.arg({ type: 'JSON' }) },
    resolve: (_root, args, ctx, info) => planSubscription(info.schema, args.query, args.variables, ctx),
  }),
)
