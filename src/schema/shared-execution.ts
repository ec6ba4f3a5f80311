import type { Plugin } from '@envelop/core'
import {
  createSourceEventStream,
  execute,
  Kind,
  print,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type OperationDefinitionNode,
} from 'graphql'
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit'
import type { Transition } from '../streams/filters/transitions.js'
import type { Delivery } from '../streams/stream-event.js'
import type { QueueItem, SubscriberQueue } from '../streams/subscriber-queue.js'
import type { GraphQLContext } from './context.js'

/**
 * Executes each subscription event once per distinct selection, however many subscribers receive it.
 *
 * An event's result depends only on the delivery (event, tenant, transition) and on the selection under the root
 * field — the root field's own arguments (`filter`, `after`) only chose the stream, and its resolver ignores them.
 * So subscribers whose selections print the same and use no variables below the root field share one execution,
 * memoised on the event, of the operation without those arguments.
 */
export function useSharedSubscriptionExecution(): Plugin<GraphQLContext> {
  const sharings = new WeakMap<DocumentNode, Sharing | null>()
  // One function for every operation: envelop keeps what setSubscribeFn was given for as long as the operation runs.
  const subscribe = async (args: ExecutionArgs) => {
    const source = await createSourceEventStream(args)
    if (!isAsyncIterable(source)) return source
    let sharing = sharings.get(args.document)
    if (sharing === undefined) {
      sharing = sharingOf(args.document, args.operationName)
      sharings.set(args.document, sharing)
    }
    const subscription = new SharedSubscription(args, sharing, source)
    if (sharing !== null && isDirectQueue(source)) directSources.set(args.contextValue as object, subscription)
    return subscription.results()
  }
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribe)
    },
  }
}

/**
 * A subscription whose items a transport may take straight from its queue, without the per-subscription iterator
 * chain (src/server/ws-direct.ts): what the chain would do for an error-free shared result, done synchronously.
 */
export interface DirectSource {
  readonly queue: Pick<SubscriberQueue<unknown>, 'peek' | 'shift' | 'onReady' | 'closed'>
  /** The item's shared result, settled or pending; undefined when the item is not shared (errors are not). */
  result(item: QueueItem<unknown>): ExecutionResult | Promise<ExecutionResult> | undefined
  /** Accounts for an item taken from the queue and sent. */
  delivered(item: QueueItem<unknown>): void
  /**
   * The subscription's results as an iterator over what is left in the queue, each item executed (or its shared
   * result taken) as the operation's iterator does before envelop's hooks wrap it. Its `return()` ends the
   * subscription. The same iterator at every call.
   */
  results(): AsyncIterator<ExecutionResult>
}

const directSources = new WeakMap<object, DirectSource>()

/** The direct source of the subscription just started with this context value (once). */
export function takeDirectSource(contextValue: unknown): DirectSource | undefined {
  if (typeof contextValue !== 'object' || contextValue === null) return undefined
  const source = directSources.get(contextValue)
  directSources.delete(contextValue)
  return source
}

/**
 * One subscription's side of shared execution: its items' results, shared when the selection is (memoised on the
 * delivery's event per tenant and transition, or on a live aggregate value's memo), else executed for it alone. A
 * class, not closures: a node holds one per subscription.
 */
class SharedSubscription implements DirectSource {
  readonly #args: ExecutionArgs
  readonly #sharing: Sharing | null
  readonly #source: AsyncIterable<unknown>
  #results: EventResults | undefined

  constructor(args: ExecutionArgs, sharing: Sharing | null, source: AsyncIterable<unknown>) {
    this.#args = args
    this.#sharing = sharing
    this.#source = source
  }

  /** The source, when it is a subscriber queue (only then is this a direct source: see `subscribe` above). */
  get queue(): SubscriberQueue<unknown> {
    return this.#source as SubscriberQueue<unknown>
  }

  /** The source's iterator, for {@link EventResults}. */
  iterator(): AsyncIterator<unknown> {
    return this.#source[Symbol.asyncIterator]()
  }

  results(): EventResults {
    return (this.#results ??= new EventResults(this))
  }

  result(item: QueueItem<unknown>): Promise<ExecutionResult> | ExecutionResult | undefined {
    const sharing = this.#sharing
    if (sharing === null || item.error) return undefined
    // A change delivery shares on its event (per tenant and transition); a live aggregate's value on itself.
    const shared = item.value as Partial<Delivery> & { memo?: Map<string, unknown> }
    let memo: Map<string, unknown>
    let memoKey: string
    if (shared.event) {
      memo = shared.event.memo
      memoKey = deliveryKey(sharing, shared.tenant!, shared.transition!)
    } else if (shared.memo instanceof Map) {
      memo = shared.memo
      memoKey = sharing.valueKey
    } else {
      return undefined
    }
    let result = memo.get(memoKey) as Promise<ExecutionResult> | ExecutionResult | undefined
    if (!result) {
      result = this.#executeShared(sharing, item)
      memo.set(memoKey, result)
      // Subscribers that read the memo once it settled take the result itself, without a promise.
      if (result instanceof Promise) result.then((settled) => memo.set(memoKey, settled), () => undefined)
    }
    return result
  }

  delivered(item: QueueItem<unknown>): void {
    if (!item.error && (item.value as Partial<Delivery>).event) {
      ;(this.#args.contextValue as GraphQLContext).services.onDelivered(item.value as Delivery)
    }
  }

  /** The item's result for the operation's own iterator: the shared one, else this operation executed for it. */
  map(payload: unknown): Promise<ExecutionResult> | ExecutionResult {
    const item = payload as QueueItem<unknown>
    const result = this.result(item)
    if (!result) return execute({ ...this.#args, rootValue: payload })
    this.delivered(item)
    return result
  }

  /**
   * Runs the shared document for one item, its selection alone: the root field's arguments (and so the variables)
   * only chose the stream, and coercing them again for every event would cost as much as some selections themselves.
   * Compiled to JavaScript (graphql-jit) from its second execution on: graphql-js walks the document again for every
   * execution, about a fifth of the gateway's time while 1,000 subscribers catch up at one subscriber per event. A
   * selection that sees a single event never pays the few milliseconds a compilation costs; one graphql-jit does not
   * compile runs through graphql-js.
   */
  #executeShared(sharing: Sharing, root: unknown): Promise<ExecutionResult> | ExecutionResult {
    const args = this.#args
    const query = compiledQuery(sharing, args)
    if (query) return query.query(root, args.contextValue, undefined) as Promise<ExecutionResult> | ExecutionResult
    return execute({ ...args, document: sharing.document, variableValues: undefined, rootValue: root })
  }
}

/**
 * The memo key of a delivery's shared result. Memo keys hold the printed selection: built once per (tenant,
 * transition) and document, not per delivery or subscription, and found without building any string (a fresh
 * concatenation is hashed again at every lookup).
 */
function deliveryKey(sharing: Sharing, tenant: string, transition: Transition): string {
  let byTransition = sharing.memoKeys.get(tenant)
  if (byTransition === undefined) sharing.memoKeys.set(tenant, (byTransition = {}))
  return (byTransition[transition] ??= `exec|${tenant}|${transition}|${sharing.key}`)
}

function isDirectQueue(source: AsyncIterable<unknown>): source is SubscriberQueue<unknown> {
  const queue = source as Partial<SubscriberQueue<unknown>>
  return typeof queue.peek === 'function' && typeof queue.shift === 'function' && typeof queue.onReady === 'function'
}

/** How a subscription's results are shared: by the key of its selection, executed as `document`. */
interface Sharing {
  /** The selection under the single root field, with fragments. */
  readonly key: string
  /** Memo keys of deliveries, by tenant and transition ({@link deliveryKey}). */
  readonly memoKeys: Map<string, Partial<Record<Transition, string>>>
  /** Memo key of a live aggregate's value. */
  readonly valueKey: string
  /** The operation with its root field's arguments and its variable definitions left out. */
  readonly document: DocumentNode
  /** Executions before it was compiled. */
  executions: number
  /** Whether graphql-jit may compile it: no argument but a boolean literal (see {@link onlyBooleanArguments}). */
  readonly compilable: boolean
  /** `document` compiled to JavaScript for one schema (null: graphql-jit did not compile it). */
  compiled?: { readonly schema: ExecutionArgs['schema']; readonly query: CompiledQuery | null }
}

function compiledQuery(sharing: Sharing, args: ExecutionArgs): CompiledQuery | null {
  if (sharing.compiled?.schema === args.schema) return sharing.compiled.query
  if (++sharing.executions < 2 || !sharing.compilable) return null
  const compiled = compileQuery(args.schema, sharing.document, args.operationName ?? undefined, { disablingCapturingStackErrors: true })
  sharing.compiled = { schema: args.schema, query: isCompiledQuery(compiled) ? compiled : null }
  return sharing.compiled.query
}

/** Null when the subscription's results cannot be shared (more than one root field, variables below the root...). */
function sharingOf(document: DocumentNode, operationName: string | null | undefined): Sharing | null {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0]
  const [root, ...more] = operation?.selectionSet.selections ?? []
  if (!operation || !root || more.length > 0 || root.kind !== Kind.FIELD || !root.selectionSet) return null
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => print(d))
  const selection = [print(root.selectionSet), ...fragments].join('\n')
  if (selection.includes('$') || root.directives?.length) return null
  const field: FieldNode = { ...root, arguments: [] }
  const bare: OperationDefinitionNode = { ...operation, variableDefinitions: [], selectionSet: { ...operation.selectionSet, selections: [field] } }
  const shared: DocumentNode = { ...document, definitions: document.definitions.map((d) => (d === operation ? bare : d)) }
  const key = `${root.alias?.value ?? root.name.value}|${selection}`
  return {
    executions: 0,
    compilable: onlyBooleanArguments(shared),
    key,
    memoKeys: new Map(),
    valueKey: `exec|${key}`,
    document: shared,
  }
}

/**
 * graphql-jit writes argument literals into the code it generates, and its writer turns some string contents into
 * code (a string starting with its date marker becomes `new Date(<the rest>)`). Client strings must never reach it:
 * documents with an argument other than `true`/`false` (`@include(if: true)`) run through graphql-js. The root
 * field's arguments are already gone, and no field below it takes any today; this keeps it so for any schema.
 */
export function onlyBooleanArguments(document: DocumentNode): boolean {
  let only = true
  visit(document, {
    Argument(node) {
      if (node.value.kind !== Kind.BOOLEAN) only = false
    },
  })
  return only
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function'
}

/**
 * The operation's own iterator over a {@link SharedSubscription}'s items, passing return() through so the
 * subscription's cleanup runs. No async function: a memoised result that is already settled costs one promise per
 * item, not three.
 */
class EventResults implements AsyncGenerator<ExecutionResult, void, void> {
  readonly #subscription: SharedSubscription
  readonly #iterator: AsyncIterator<unknown>

  constructor(subscription: SharedSubscription) {
    this.#subscription = subscription
    this.#iterator = subscription.iterator()
  }

  next(): Promise<IteratorResult<ExecutionResult, void>> {
    return this.#iterator.next().then((step) => this.#toStep(step))
  }

  async return(): Promise<IteratorResult<ExecutionResult, void>> {
    await this.#iterator.return?.()
    return { value: undefined, done: true }
  }

  async throw(error?: unknown): Promise<IteratorResult<ExecutionResult, void>> {
    await this.#iterator.return?.()
    throw error
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  #toStep(step: IteratorResult<unknown>): IteratorResult<ExecutionResult, void> | Promise<IteratorResult<ExecutionResult, void>> {
    if (step.done) return { value: undefined, done: true }
    const value = this.#subscription.map(step.value)
    return value instanceof Promise ? value.then((result) => ({ value: result, done: false })) : { value, done: false }
  }
}
