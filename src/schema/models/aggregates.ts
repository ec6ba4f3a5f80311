import { aggregateFieldsOf, aggregateSubscriptionName, type AggregateField } from '../../aggregates/fields.js'
import type { AggregateSnapshot } from '../../aggregates/live-aggregate.js'
import { compileAggregate, DEFAULT_THROTTLE_MS, MAX_THROTTLE_MS, throttleOf, type AggregateArguments } from '../../aggregates/request.js'
import type { GroupValue } from '../../aggregates/state.js'
import { windowAt } from '../../aggregates/window.js'
import type { Model, ModelRegistry, ScalarField } from '../../models/index.js'
import type { QueueItem } from '../../streams/subscriber-queue.js'
import type { Builder } from '../builder.js'
import type { GraphQLContext } from '../context.js'
import type { ModelInputs } from './inputs.js'
import type { ModelTypes } from './outputs.js'
import { outputValue } from './values.js'

interface AggregateValue {
  readonly snapshot: AggregateSnapshot
  /** The snapshot's memo: subscribers of one aggregate with the same selection share one execution. */
  readonly memo: Map<string, unknown>
  readonly tenant: string
  readonly groupBy: readonly AggregateField[]
  readonly window: { readonly sizeSeconds: number; readonly slideSeconds: number } | null
}

interface GroupOutput {
  readonly group: GroupValue
  readonly groupBy: readonly AggregateField[]
}

/** One of sum/avg/min/max of a group: a value per numeric field. */
interface NumbersOutput {
  readonly values: readonly (number | null)[]
}

const SCALAR_OUTPUTS = { String: 'String', ID: 'ID', ObjectId: 'ID', Boolean: 'Boolean', Int: 'Int' } as const

/**
 * Per model, `<model>Aggregate(where, groupBy, window, throttleMs, after)`: counts, sums, averages, minima and
 * maxima of the matching documents, per group, over all time or a window, kept exact by the model's change stream.
 */
export function addModelAggregates(builder: Builder, registry: ModelRegistry, types: ModelTypes, inputs: ModelInputs): void {
  for (const model of registry.models) addAggregate(builder, model, types, inputs)
}

function addAggregate(builder: Builder, model: Model, types: ModelTypes, inputs: ModelInputs): void {
  const type = model.names.type
  const fields = aggregateFieldsOf(model)
  const numeric = fields.numeric
  const numberIndex = new Map(numeric.map((f, n) => [f.name, n]))

  const GroupByEnum = fields.groupable.length === 0 ? undefined : builder.enumType(`${type}GroupBy`, {
    description: `Fields ${type} aggregates can group by`,
    values: Object.fromEntries(
      fields.groupable.map((f) => [f.enumValue, { value: f.enumValue, description: `Group by \`${f.path}\`` }]),
    ) as Record<string, { value: string }>,
  })
  const TimeFieldEnum = fields.time.length === 0 ? undefined : builder.enumType(`${type}TimeField`, {
    description: `Date fields a ${type} aggregate's window can be placed on`,
    values: Object.fromEntries(
      fields.time.map((f) => [f.enumValue, { value: f.enumValue, description: `Place each document by \`${f.path}\`` }]),
    ) as Record<string, { value: string }>,
  })

  const WindowInput = builder.inputType(`${type}AggregateWindow`, {
    description: 'A time window: buckets `slide` seconds long, each starting at a multiple of `slide` since the epoch; the window is the `size / slide` buckets ending with the current one',
    fields: (t) => ({
      size: t.int({ required: true, description: 'Window length in seconds (1 to 604,800)' }),
      slide: t.int({ description: 'Seconds between window moves; divides `size`, at most 1,000 buckets per window. Default `size` (tumbling)' }),
      ...(TimeFieldEnum
        ? { on: t.field({ type: TimeFieldEnum, description: "Place each document by this date field. Default: the commit time of the document's last change" }) }
        : {}),
    }),
  })

  const KeyRef = fields.groupable.length === 0 ? undefined : builder.objectRef<GroupOutput>(`${type}AggregateKey`).implement({
    description: `A group's values of the \`groupBy\` fields; null for fields not grouped by (and for documents without the field)`,
    fields: (t) =>
      Object.fromEntries(
        fields.groupable.map((f) => [
          f.name,
          t.field({
            type: (f.field.kind === 'enum' ? types.enumOf(f.field) : SCALAR_OUTPUTS[(f.field as ScalarField).scalar as keyof typeof SCALAR_OUTPUTS]) as never,
            nullable: true,
            description: `\`${f.path}\``,
            resolve: (g: GroupOutput) => {
              const n = g.groupBy.indexOf(f)
              return (n < 0 ? null : outputValue({ ...f.field, list: false, required: false }, g.group.keyValues[n])) as never
            },
          }),
        ]),
      ),
  })

  const NumbersRef = numeric.length === 0 ? undefined : builder.objectRef<NumbersOutput>(`${type}AggregateNumbers`).implement({
    description: `One value per numeric field of ${type}`,
    fields: (t) =>
      Object.fromEntries(
        numeric.map((f) => [
          f.name,
          t.float({ nullable: true, description: `\`${f.path}\``, resolve: (v) => v.values[numberIndex.get(f.name)!] }),
        ]),
      ),
  })

  const GroupRef = builder.objectRef<GroupOutput>(`${type}AggregateGroup`).implement({
    description: `The totals of one group of ${type} documents`,
    fields: (t) => ({
      ...(KeyRef ? { key: t.field({ type: KeyRef, description: 'What the group has in common', resolve: (g) => g } ) } : {}),
      count: t.int({ description: 'Documents in the group', resolve: (g) => g.group.count }),
      ...(NumbersRef
        ? {
            sum: t.field({ type: NumbersRef, description: 'Sums (documents without a number there add nothing; 0 for none)', resolve: (g) => ({ values: g.group.sum }) }),
            avg: t.field({ type: NumbersRef, description: 'Averages over the documents with a number there; null for none', resolve: (g) => ({ values: g.group.avg }) }),
            min: t.field({ type: NumbersRef, description: 'Smallest values; null for none', resolve: (g) => ({ values: g.group.min }) }),
            max: t.field({ type: NumbersRef, description: 'Largest values; null for none', resolve: (g) => ({ values: g.group.max }) }),
          }
        : {}),
    }),
  })

  const AggregateRef = builder.objectRef<AggregateValue>(`${type}Aggregate`).implement({
    description: `Live totals of ${type} documents, exact at \`cursor\``,
    fields: (t) => ({
      cursor: t.field({
        type: 'Cursor',
        description: 'The values reflect every change committed up to this position and none after it; also usable as `after:` of the change subscription',
        resolve: (v, _args, ctx: GraphQLContext) => ctx.services.cursors.encode({ tenant: v.tenant, collection: model.collection, position: v.snapshot.position }),
      }),
      asOf: t.field({ type: 'DateTime', description: 'The instant the window is evaluated at (the later of now and the cursor\'s commit time)', resolve: (v) => v.snapshot.asOf }),
      windowStart: t.field({ type: 'DateTime', nullable: true, description: 'Start of the window (inclusive); null without a window', resolve: (v) => windowBound(v, 'start') }),
      windowEnd: t.field({ type: 'DateTime', nullable: true, description: 'End of the window (exclusive); null without a window', resolve: (v) => windowBound(v, 'end') }),
      groups: t.field({
        type: [GroupRef],
        description: 'One entry per non-empty group, by key',
        resolve: (v) => v.snapshot.groups.map((group) => ({ group, groupBy: v.groupBy })),
      }),
    }),
  })

  const name = aggregateSubscriptionName(model)
  builder.subscriptionField(name, (t) =>
    t.field({
      type: AggregateRef,
      description: `Counts${numeric.length > 0 ? ', sums, averages, minima and maxima' : ''} of your ${type} documents matching \`where\`, per group, over all time or a window: first the value now, then a new one after changes (at most one per \`throttleMs\`), each exact at its cursor. Errors: BAD_USER_INPUT (invalid arguments, or more groups than the gateway allows), INVALID_CURSOR, CURSOR_EXPIRED (a commit-time window older than the retained history), STREAM_INVALIDATED, SUBSCRIPTION_LIMIT`,
      args: {
        where: t.arg({ type: inputs.where(model), description: 'Which documents count' }),
        ...(GroupByEnum ? { groupBy: t.arg({ type: [GroupByEnum], description: 'Fields to group by; omit for one group of everything' }) } : {}),
        window: t.arg({ type: WindowInput, description: 'Count only documents in a time window; omit for all time' }),
        throttleMs: t.arg.int({ description: `At most one value per this many milliseconds (0 to ${MAX_THROTTLE_MS}, default ${DEFAULT_THROTTLE_MS})` }),
        after: t.arg({ type: 'Cursor', description: "A cursor from an earlier value (or any cursor of your tenant): checked, and the first value's cursor is at or after it" }),
      } as never,
      subscribe: async (_root, rawArgs, ctx: GraphQLContext) => {
        const args = rawArgs as AggregateArguments & { throttleMs?: number | null; after?: string | null }
        const request = compileAggregate(model, fields, args, ctx.auth.tenant)
        const throttleMs = throttleOf(args.throttleMs)
        if (args.after != null) ctx.services.cursors.decode(args.after, { tenant: ctx.auth.tenant, collection: model.collection })
        const window = request.spec.window
        const values = await ctx.services.aggregates.subscribe(request, throttleMs)
        const tenant = ctx.auth.tenant
        return mapItems(values, (snapshot) => {
          // One value per snapshot: the snapshot belongs to one aggregate, so tenant, groupBy and window are the same.
          let value = snapshot.memo.get('value') as AggregateValue | undefined
          if (!value) snapshot.memo.set('value', (value = { snapshot, memo: snapshot.memo, tenant, groupBy: request.spec.groupBy, window }))
          return value
        }) as never
      },
      resolve: (item) => {
        const value = item as unknown as QueueItem<AggregateValue>
        if (value.error) throw value.error
        return value.value as never
      },
    }),
  )
}

function windowBound(v: AggregateValue, bound: 'start' | 'end'): Date | null {
  if (!v.window) return null
  const w = windowAt({ ...v.window, timeField: null }, Math.floor(v.snapshot.asOf.getTime() / 1000))
  return new Date(w[bound] * 1000)
}

function mapItems<T, U>(source: AsyncIterableIterator<QueueItem<T>>, map: (value: T) => U): AsyncIterableIterator<QueueItem<U>> {
  const iterator: AsyncIterableIterator<QueueItem<U>> = {
    async next() {
      const result = await source.next()
      if (result.done) return { value: undefined, done: true }
      const item = result.value
      return { value: item.error ? { error: item.error } : { value: map(item.value) }, done: false }
    },
    async return() {
      await source.return?.()
      return { value: undefined, done: true }
    },
    [Symbol.asyncIterator]() {
      return iterator
    },
  }
  return iterator
}
