import type { Document } from 'mongodb'
import type { GatewayError } from '../errors.js'
import { keyString, type CompiledFilter } from './filters/compiler.js'
import { compileDocumentMatcher, compileEventMatcher, normalizedImages } from './filters/matcher.js'
import { computeTransition } from './filters/transitions.js'
import type { Delivery, StreamEvent } from './stream-event.js'

/** A subscriber as the dispatcher sees it. */
export interface Member {
  readonly filter: CompiledFilter
  deliver(delivery: Delivery): void
  fail(error: GatewayError): void
}

/** Subscribers with byte-identical pipelines share one compiled predicate and one evaluation per event. */
interface Group {
  readonly filter: CompiledFilter
  readonly evaluator: HeldEvaluator
  readonly members: Set<Member>
  readonly slot: string
  /** The filter's tenant and canonical pipeline: equal filters of one tenant share a group. */
  readonly key: string
}

/** Decides what one filter's subscribers receive for one event: nothing, or a delivery with its transition. */
export type FilterEvaluator = (event: StreamEvent) => Delivery | undefined

export function createFilterEvaluator(filter: CompiledFilter): FilterEvaluator {
  const matchesEvent = compileEventMatcher(filter.pipeline)
  const matchesDocument = compileDocumentMatcher(filter.documentFilter)
  const { tenant, tenantField } = filter
  return (event) => {
    if (event.tenants !== null && !event.tenants.includes(tenant)) return undefined
    if (!matchesEvent(event.raw, () => normalizedImages(event).raw)) return undefined
    // Normalising keeps strings as they are: the tenant of each image reads the same either way.
    const transition = computeTransition(event.before, event.after, tenant, tenantField, (image) =>
      matchesDocument(image!, () => (image === event.before ? normalizedImages(event).before! : normalizedImages(event).after!)),
    )
    return transition ? { event, tenant, transition } : undefined
  }
}

/** An evaluator held by one of those who use it; `release` once done with it. */
export interface HeldEvaluator {
  readonly evaluate: FilterEvaluator
  release(): void
}

/**
 * Evaluators of the filters someone holds, by collection, tenant field, tenant and canonical pipeline: a
 * subscriber's filter is compiled once, however many dispatchers it is in (its live stream, a shared history read)
 * and whether it also catches up alone. Compiling one (mingo) costs as much as a few hundred evaluations.
 */
const evaluators = new Map<string, { readonly evaluate: FilterEvaluator; refs: number }>()

export function holdFilterEvaluator(filter: CompiledFilter): HeldEvaluator {
  const key = `${filter.collection}\n${filter.tenantField}\n${filter.tenant}\n${filter.canonical}`
  let shared = evaluators.get(key)
  if (!shared) evaluators.set(key, (shared = { evaluate: createFilterEvaluator(filter), refs: 0 }))
  shared.refs++
  const held = shared
  let released = false
  return {
    evaluate: held.evaluate,
    release() {
      if (released) return
      released = true
      if (--held.refs === 0 && evaluators.get(key) === held) evaluators.delete(key)
    },
  }
}

interface TenantIndex {
  /** Equality fields some group is indexed by, with how many groups use each. */
  readonly fields: Map<string, number>
  /** `*` for unindexed groups, `field=value` for indexed ones. */
  readonly slots: Map<string, Set<Group>>
}

export interface Dispatcher {
  add(member: Member): () => void
  /** Delivers one event to every matching member; returns the number of deliveries. */
  dispatch(event: StreamEvent): number
  failAll(error: GatewayError): void
  readonly size: number
}

const slotOf = (filter: CompiledFilter) => {
  const [field] = Object.keys(filter.indexKeys)
  return field === undefined ? '*' : `${field}=${filter.indexKeys[field]}`
}

/** Adds the groups of the slot `field=value` (if any) to `candidates`. */
function addSlot(index: TenantIndex, field: string, value: string | undefined, candidates: Group[]): void {
  const slot = value === undefined ? undefined : index.slots.get(`${field}=${value}`)
  if (slot) for (const group of slot) candidates.push(group)
}

export function createDispatcher(): Dispatcher {
  const groups = new Map<string, Group>()
  const tenants = new Map<string, TenantIndex>()
  let size = 0

  const groupFor = (filter: CompiledFilter): Group => {
    // Without a tenant field the pipeline does not name the tenant, but deliveries (and their cursors) still do.
    const key = `${filter.tenant}\n${filter.canonical}`
    let group = groups.get(key)
    if (group) return group
    group = {
      filter,
      evaluator: holdFilterEvaluator(filter),
      members: new Set(),
      slot: slotOf(filter),
      key,
    }
    groups.set(key, group)
    let index = tenants.get(filter.tenant)
    if (!index) tenants.set(filter.tenant, (index = { fields: new Map(), slots: new Map() }))
    const field = Object.keys(filter.indexKeys)[0]
    if (field !== undefined) index.fields.set(field, (index.fields.get(field) ?? 0) + 1)
    let slot = index.slots.get(group.slot)
    if (!slot) index.slots.set(group.slot, (slot = new Set()))
    slot.add(group)
    return group
  }

  const dropGroup = (group: Group) => {
    groups.delete(group.key)
    group.evaluator.release()
    const index = tenants.get(group.filter.tenant)
    if (!index) return
    const slot = index.slots.get(group.slot)
    slot?.delete(group)
    if (slot?.size === 0) index.slots.delete(group.slot)
    const field = Object.keys(group.filter.indexKeys)[0]
    if (field !== undefined) {
      const n = (index.fields.get(field) ?? 1) - 1
      if (n <= 0) index.fields.delete(field)
      else index.fields.set(field, n)
    }
    if (index.slots.size === 0) tenants.delete(group.filter.tenant)
  }

  return {
    add(member) {
      const group = groupFor(member.filter)
      group.members.add(member)
      size++
      let removed = false
      return () => {
        if (removed) return
        removed = true
        size--
        group.members.delete(member)
        if (group.members.size === 0) dropGroup(group)
      }
    },
    dispatch(event) {
      let deliveries = 0
      for (const tenant of event.tenants ?? tenants.keys()) {
        const index = tenants.get(tenant)
        if (!index) continue
        // A group sits in exactly one slot, so the slots of distinct keys hold distinct groups: no set to dedupe.
        const candidates: Group[] = []
        const unindexed = index.slots.get('*')
        if (unindexed) for (const group of unindexed) candidates.push(group)
        for (const field of index.fields.keys()) {
          const before = field === '_id' ? keyString((event.documentKey as Document)._id) : keyString(event.before?.[field])
          const after = field === '_id' ? before : keyString(event.after?.[field])
          addSlot(index, field, before, candidates)
          if (after !== before) addSlot(index, field, after, candidates)
        }
        for (const group of candidates) {
          const delivery = group.evaluator.evaluate(event)
          if (!delivery) continue
          for (const member of group.members) {
            member.deliver(delivery)
            deliveries++
          }
        }
      }
      return deliveries
    },
    failAll(error) {
      for (const group of [...groups.values()]) for (const member of [...group.members]) member.fail(error)
    },
    get size() {
      return size
    },
  }
}
