import { forbidden } from '../../errors.js'
import type { SharedStreamStatus } from '../../streams/shared-stream.js'
import type { GatewayNodeInfo } from '../../services.js'
import type { GraphQLContext } from '../context.js'
import type { Builder } from '../builder.js'
import { toRelaxed } from '../ejson.js'
import { planSubscription, type SubscriptionPlan } from './explain.js'

const requireAdmin = (ctx: GraphQLContext) => {
  if (!ctx.auth.scopes.has('admin')) throw forbidden()
}

/** Operational queries every configuration has: positions, streams, nodes, plans. */
export function addOperations(builder: Builder): void {
const FilterLocationEnum = builder.enumType('FilterLocation', {
  description: 'Where a filter is evaluated',
  values: {
    MONGODB: { value: 'MONGODB', description: "In MongoDB, as part of the change stream's pipeline" },
    GATEWAY: { value: 'GATEWAY', description: 'In the gateway, with the same semantics (mingo), once per distinct filter and event' },
  } as const,
})
const StreamStateEnum = builder.enumType('StreamState', {
  description: 'The life of a shared change stream',
  values: {
    STARTING: { value: 'STARTING', description: 'Opening the change stream' },
    RUNNING: { value: 'RUNNING', description: 'Listening and delivering' },
    RESUMING: { value: 'RESUMING', description: 'Reconnecting after a resumable error, from its last position' },
    FAILED: { value: 'FAILED', description: 'Stopped by an error it cannot resume from' },
    STOPPED: { value: 'STOPPED', description: 'Closed (no subscribers, invalidated, or the node is stopping)' },
  } as const,
})

const StreamStatusRef = builder.objectRef<{ status: SharedStreamStatus; cursor: string | null }>('StreamStatus').implement({
  description: 'A shared change stream on this node (scope admin)',
  fields: (t) => ({
    key: t.id({ description: 'The shared stream\'s key (`database.collection`); stays the same when ownership moves', resolve: (s) => s.status.key }),
    collection: t.string({ description: 'The collection it watches', resolve: (s) => s.status.collection }),
    pipeline: t.field({ type: 'JSON', description: 'The change stream pipeline it runs in MongoDB', resolve: (s) => toRelaxed(s.status.pipeline) }),
    state: t.field({ type: StreamStateEnum, description: 'Where the stream is in its life', resolve: (s) => s.status.state }),
    ownerNode: t.string({ nullable: true, description: "Owner's CHANGEGATE_NODE_ID", resolve: (s) => s.status.ownerNode }),
    epoch: t.float({ nullable: true, description: "Owner's fencing epoch (multi-node only)", resolve: (s) => s.status.epoch }),
    subscribers: t.int({ description: 'Subscriptions on this node that use it', resolve: (s) => s.status.subscribers }),
    eventsReceived: t.float({ description: 'Change events this node received from it', resolve: (s) => s.status.eventsReceived }),
    errors: t.int({ description: 'Errors seen while reading it (resumed or not)', resolve: (s) => s.status.errors }),
    resumes: t.int({ description: 'Times it resumed after a resumable error', resolve: (s) => s.status.resumes }),
    lastEventAt: t.field({ type: 'DateTime', description: 'When this node last received an event from it', nullable: true, resolve: (s) => s.status.lastEventAt }),
    lagMs: t.float({ description: 'Milliseconds between the last event\'s commit and its arrival here', nullable: true, resolve: (s) => s.status.lagMs }),
    resumeToken: t.field({ type: 'Cursor', description: 'The position it would resume from, as a cursor of your tenant', nullable: true, resolve: (s) => s.cursor }),
    startedAt: t.field({ type: 'DateTime', description: 'When this node opened it', resolve: (s) => s.status.startedAt }),
  }),
})

const GatewayNodeRef = builder.objectRef<GatewayNodeInfo>('GatewayNode').implement({
  description: 'A gateway node of the cluster (scope admin)',
  fields: (t) => ({
    id: t.id({ description: "The node's CHANGEGATE_NODE_ID", resolve: (n) => n.id }),
    address: t.string({ description: 'Where the node serves GraphQL', resolve: (n) => n.address }),
    startedAt: t.field({ type: 'DateTime', description: 'When the node started', resolve: (n) => n.startedAt }),
    heartbeatAgeMs: t.float({ description: 'Milliseconds since its last heartbeat (0 for this node)', resolve: (n) => n.heartbeatAgeMs }),
    connections: t.int({ description: 'Open WebSocket connections', resolve: (n) => n.connections }),
    subscriptions: t.int({ description: 'Active subscriptions', resolve: (n) => n.subscriptions }),
    ownedStreams: t.stringList({ description: 'Keys of the shared streams it owns (reads from MongoDB)', resolve: (n) => [...n.ownedStreams] }),
  }),
})

const SubscriptionPlanRef = builder.objectRef<SubscriptionPlan>('SubscriptionPlan').implement({
  description: 'How a subscription would run: the stream it joins and where its filter is evaluated',
  fields: (t) => ({
    streamKey: t.id({ description: 'Key of the shared stream the subscription joins', resolve: (p) => p.streamKey }),
    collection: t.string({ description: 'The collection it watches', resolve: (p) => p.collection }),
    pipeline: t.field({ type: 'JSON', description: 'The compiled filter as change stream `$match` stages, bound to your tenant (canonical: equal filters give equal bytes)', resolve: (p) => toRelaxed(p.pipeline) }),
    filterRunsIn: t.field({ type: FilterLocationEnum, description: 'Where the live filter runs', resolve: (p) => p.filterRunsIn }),
    streamPipeline: t.field({ type: 'JSON', description: 'The pipeline of the shared change stream the subscription joins (one per collection)', resolve: (p) => toRelaxed(p.streamPipeline) }),
    catchUpPipeline: t.field({ type: 'JSON', description: 'What a catch-up (`after:`, or a subscriber that fell behind) sends to MongoDB: the filter runs there', resolve: (p) => toRelaxed(p.catchUpPipeline) }),
    sharedWith: t.int({ description: 'Subscriptions on this node with the same tenant and filter: each event is evaluated once for all of them', resolve: (p) => p.sharedWith }),
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
    description: 'Compiles a subscription document the way subscribing would, without subscribing. BAD_USER_INPUT for an invalid document or filter',
    args: {
      query: t.arg.string({ required: true, description: 'A GraphQL document with one subscription operation' }),
      variables: t.arg({ type: 'JSON', description: 'Its variables' }),
    },
    resolve: (_root, args, ctx, info) => planSubscription(info.schema, args.query, args.variables, ctx),
  }),
)
}
