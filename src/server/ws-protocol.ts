import { getOperationAST, GraphQLError, OperationTypeNode, type ExecutionArgs, type ExecutionResult, type FormattedExecutionResult } from 'graphql'
import { CloseCode, GRAPHQL_TRANSPORT_WS_PROTOCOL, makeServer, MessageType, stringifyMessage, type Context, type OperationResult, type Server } from 'graphql-ws'
import type { WebSocket } from 'ws'
import { isAsyncIterable } from 'graphql-yoga'
import { ErrorCode, slowConsumer, subscriptionLimit } from '../errors.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import type { AuthContext, Authenticator } from './auth.js'
import { createKeyedLimit, createTokenBucket, type Release, type TokenBucket } from './limits.js'
import { codeOf, maskError, toClientJSON } from './masking.js'
import { takeDirectSource } from '../schema/shared-execution.js'
import { createTimerWheel } from './timer-wheel.js'
import { createFairTurnBudget } from '../streams/turn-budget.js'
import { directSubscription, type FrameSender } from './ws-direct.js'
import { preparePayload } from './ws-frames.js'
import type { GatewayYoga } from './yoga.js'

/** Per-socket state the adapter creates and the protocol fills in. */
export interface SocketExtra {
  readonly socket: WebSocket
  /** Writes a frame as graphql-ws's `send` does (corked, with the same waits): for frames sent beside it (ws-direct.ts). */
  readonly sendFrame?: FrameSender
  auth?: AuthContext
  /** Ids of this socket's subscription operations (queries do not count against the limit). */
  subscriptionIds?: Set<string>
  /** This socket's budget for starting subscriptions. */
  subscribeBucket?: TokenBucket
  /** Frees the socket's slot in its tenant's connection count. */
  releaseTenantSlot?: Release
}

export interface ProtocolOptions {
  yoga: GatewayYoga
  authenticator: Authenticator
  /** Subscriptions one socket may hold at once; the next one gets a per-operation SUBSCRIPTION_LIMIT error. */
  maxSubscriptionsPerSocket: number
  /**
   * Time a socket has to send `connection_init` before it is closed with 4408 `Connection initialisation timeout`
   * (as graphql-ws would); 0 or Infinity: no limit. Checked on one shared timer that wakes 16 times per timeout,
   * so a socket is closed up to 1/16 of it late.
   */
  connectionInitTimeoutMs: number
  /**
   * Acknowledged sockets one tenant may hold at once; the `connection_init` over it is closed with
   * {@link TOO_MANY_CONNECTIONS_CODE} `Too many connections`.
   */
  maxConnectionsPerTenant: number
  /**
   * Token bucket for starting subscriptions, per socket: `ratePerSecond` sustained, `burst` at once. A
   * subscription over it gets a per-operation SUBSCRIPTION_LIMIT error and the socket stays open. Queries and
   * mutations do not count (they cost what they cost over HTTP).
   */
  subscribeRate: { ratePerSecond: number; burst: number }
  metrics: Metrics
  logger: Logger
  /**
   * Subscriptions all sockets together may start in one turn of the event loop, once admitted (limits, rate); the
   * next wait for a later turn, the tenants served in turn (one each while several wait). A reconnect storm (a
   * thousand clients resubscribing at once) then starts its subscriptions over many turns, with live deliveries
   * flowing in between, and a tenant flooding the node delays another tenant's subscription by about a turn.
   * Queries and mutations do not wait. Default 16.
   */
  subscribesPerTurn?: number
}

export interface ProtocolServer {
  readonly server: Server<SocketExtra>
  /** Subscriptions held by all sockets. */
  subscriptions(): number
  /** Forgets every pending init and token deadline (their sockets are closed by then). */
  stop(): void
  /**
   * Queues, for a peer about to be closed because it stopped reading, the end of each of its subscriptions:
   * a `next` carrying SLOW_CONSUMER (resubscribe with the last cursor received), then `complete`. They follow
   * whatever the peer has not read yet.
   */
  endSubscriptionsOf(socket: WebSocket): void
}

type Enveloped = ReturnType<GatewayYoga['getEnveloped']>
type ExtraContext = Context<Record<string, unknown> | undefined, SocketExtra>
/** An operation onSubscribe prepared, until graphql-ws starts it. */
interface Prepared {
  readonly run: Enveloped
  readonly ctx: ExtraContext
  readonly id: string
}

const FORBIDDEN_CODE = 4403
/**
 * Close code for a `connection_init` over its tenant's connection limit. 4429 is graphql-ws's "Too many
 * initialisation requests" (a duplicate `connection_init`), so this mirrors HTTP 503, as nginx's `limit_conn`
 * answers; graphql-ws clients treat it as retryable and back off.
 */
export const TOO_MANY_CONNECTIONS_CODE = 4503
const SUBSCRIBE_RATE_MESSAGE = 'Subscribing too fast on this connection; retry later'
/** Init deadlines are checked this many times per init timeout. */
const INIT_WAIT_SLOTS = 16

/**
 * graphql-transport-ws over the yoga pipeline: `connection_init` authenticates (4403 `Forbidden` otherwise),
 * each `subscribe` runs through `yoga.getEnveloped` (limits, validation, masking as on HTTP), and every error
 * leaves masked, without internal extensions, and counted.
 */
export function createProtocolServer(opts: ProtocolOptions): ProtocolServer {
  const { yoga, authenticator, metrics, logger } = opts
  const live = new Set<ExtraContext>()
  const prepared = new WeakMap<ExecutionArgs, Prepared>()
  const tenants = createKeyedLimit(opts.maxConnectionsPerTenant)
  const starts = createFairTurnBudget(opts.subscribesPerTurn ?? 16)

  // A shared result reaches every subscriber of its selection with the same error objects: each is logged once,
  // not once per subscriber (counted per subscriber, as what was sent).
  const logged = new WeakSet<GraphQLError>()
  const formatErrors = (errors: readonly GraphQLError[]) =>
    errors.map((error) => {
      const masked = maskError(error)
      if (masked !== error && codeOf(masked) === ErrorCode.INTERNAL_SERVER_ERROR && !logged.has(error)) {
        logged.add(error)
        logger.error({ err: error.originalError ?? error }, 'internal error')
      }
      metrics.errors.inc({ code: codeOf(masked) })
      return toClientJSON(masked)
    })

  const forbid = (extra: SocketExtra) => {
    metrics.errors.inc({ code: ErrorCode.UNAUTHENTICATED })
    extra.socket.close(FORBIDDEN_CODE, 'Forbidden')
  }

  // Token expiry on one timer for all sockets, in whole seconds as JWT `exp` is: a socket is closed at its `exp`
  // (one already past is closed within a second). A token valid for weeks stays in the wheel, looked at once a turn.
  const expiries = createTimerWheel<SocketExtra>({ slotMs: 1000, slots: 64, onDue: forbid })

  // graphql-ws's own init timer is off (a Timeout per socket, whose closure outlives it); this one closes as it would.
  const initTimeoutMs = opts.connectionInitTimeoutMs
  const initWaits =
    initTimeoutMs > 0 && Number.isFinite(initTimeoutMs)
      ? createTimerWheel<SocketExtra>({
          slotMs: initTimeoutMs / INIT_WAIT_SLOTS,
          slots: INIT_WAIT_SLOTS,
          onDue: ({ socket }) => {
            if (socket.readyState === socket.OPEN) socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout')
          },
        })
      : undefined

  const core = makeServer<Record<string, unknown> | undefined, SocketExtra>({
    connectionInitWaitTimeout: 0,

    async onConnect(ctx) {
      // graphql-ws calls this as soon as the first `connection_init` arrives (where it would clear its timer).
      initWaits?.cancel(ctx.extra)
      const auth = await authenticator.authenticate(authorizationOf(ctx.connectionParams)).catch(() => undefined)
      // The token has done its work (its expiry is in `auth`): the socket does not hold it for its whole life.
      ;(ctx as { connectionParams?: unknown }).connectionParams = undefined
      if (!auth) {
        metrics.errors.inc({ code: ErrorCode.UNAUTHENTICATED })
        return false
      }
      // The peer may have gone while the token was being checked: arm nothing for a dead socket.
      if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false
      const releaseTenantSlot = tenants.acquire(auth.tenant)
      if (!releaseTenantSlot) {
        logger.debug({ tenant: auth.tenant }, 'websocket refused: tenant connection limit')
        ctx.extra.socket.close(TOO_MANY_CONNECTIONS_CODE, 'Too many connections')
        return false
      }
      ctx.extra.releaseTenantSlot = releaseTenantSlot
      ctx.extra.auth = auth
      if (auth.exp !== undefined) expiries.schedule(ctx.extra, auth.exp * 1000)
      live.add(ctx)
      return true
    },

    async onSubscribe(ctx, id, payload) {
      const auth = ctx.extra.auth
      if (!auth) return [new GraphQLError('Forbidden', { extensions: { code: ErrorCode.UNAUTHENTICATED } })]
      try {
        const run = yoga.getEnveloped({ auth, params: payload })
        const document = run.parse(payload.query)
        const errors = run.validate(run.schema, document)
        if (errors.length > 0) return errors
        // graphql-ws and the context hold the payload while the operation runs: the text of the parse cache's
        // document, when it is the same, instead of each client's own copy of it.
        const body = document.loc?.source.body
        if (body !== undefined && body === payload.query) (payload as { query: string }).query = body
        if (getOperationAST(document, payload.operationName)?.operation === OperationTypeNode.SUBSCRIPTION) {
          const held = liveSubscriptions(ctx)
          if (held.size >= opts.maxSubscriptionsPerSocket) return [subscriptionLimit()]
          ctx.extra.subscribeBucket ??= createTokenBucket(opts.subscribeRate)
          if (!ctx.extra.subscribeBucket.take()) return [subscriptionLimit(SUBSCRIBE_RATE_MESSAGE)]
          held.add(id)
          // Only admitted subscriptions wait their turn (the socket's limits bound how many): a flood is refused
          // at once, not queued.
          const turn = starts.take(auth.tenant)
          if (turn) await turn
        }
        const args: ExecutionArgs = {
          schema: run.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: await run.contextFactory(),
        }
        prepared.set(args, { run, ctx, id })
        return args
      } catch (error) {
        // Parse errors (and armor's token limit) are thrown GraphQL errors; anything else is masked in onError.
        return [error instanceof GraphQLError ? error : new GraphQLError('unexpected', { originalError: asError(error) })]
      }
    },

    execute: (args) => take(args).run.execute(args) as OperationResult,
    subscribe: async (args) => {
      const { run, ctx, id } = take(args)
      const result = (await run.subscribe(args)) as Awaited<OperationResult>
      // Shared, error-free results of a running subscription go straight to the socket (ws-direct.ts).
      const source = takeDirectSource(args.contextValue)
      const send = ctx.extra.sendFrame
      if (!source || !send || !isAsyncIterable(result)) return result
      // `result` (envelop's iterator around the same results) is let go: ws-direct.ts says why.
      return directSubscription(id, source, send)
    },

    onNext(ctx, _id, _payload, _args, result: ExecutionResult) {
      // On a closed socket the send fails anyway: nothing to format or count.
      if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return
      // An error-free result shared by many subscriptions is serialized once (ws-frames.ts).
      if (!result.errors?.length) return preparePayload(result) as FormattedExecutionResult | undefined
      return { ...result, errors: formatErrors(result.errors) }
    },

    // A socket that closed under a running operation fails its pending send; that failure is the transport's,
    // not an internal error, and nobody is left to tell.
    onError: (ctx, _id, _payload, errors) => (ctx.extra.socket.readyState === ctx.extra.socket.OPEN ? formatErrors(errors) : []),

    onClose(ctx) {
      initWaits?.cancel(ctx.extra)
      expiries.cancel(ctx.extra)
      ctx.extra.releaseTenantSlot?.()
      live.delete(ctx)
    },
  })

  // graphql-ws closes a socket without its subprotocol at once, and waits for no init from it.
  const server: Server<SocketExtra> = {
    opened(socket, extra) {
      if (socket.protocol === GRAPHQL_TRANSPORT_WS_PROTOCOL) initWaits?.schedule(extra, Date.now() + initTimeoutMs)
      return core.opened(socket, extra)
    },
  }

  /** The operation's pipeline, once: graphql-ws holds `args` for as long as a subscription runs, the pipeline need not stay. */
  function take(args: ExecutionArgs): Prepared {
    const operation = prepared.get(args)
    if (!operation) throw new Error('operation was not prepared by onSubscribe')
    prepared.delete(args)
    return operation
  }

  return {
    server,
    stop() {
      initWaits?.stop()
      expiries.stop()
    },
    endSubscriptionsOf(socket) {
      if (socket.readyState !== socket.OPEN) return
      for (const ctx of live) {
        if (ctx.extra.socket !== socket) continue
        for (const id of liveSubscriptions(ctx)) {
          const [error] = formatErrors([slowConsumer()])
          socket.send(stringifyMessage({ id, type: MessageType.Next, payload: { errors: [error] } }))
          socket.send(stringifyMessage({ id, type: MessageType.Complete }))
        }
      }
    },
    subscriptions() {
      let count = 0
      for (const ctx of live) count += liveSubscriptions(ctx).size
      return count
    },
  }
}

/**
 * The socket's subscription ids that are still running. graphql-ws removes an operation from
 * `ctx.subscriptions` the moment it ends for any reason (client `complete`, error, socket close), so ids no
 * longer there are dropped here; a completed subscription frees its slot at once.
 */
function liveSubscriptions(ctx: ExtraContext): Set<string> {
  const ids = (ctx.extra.subscriptionIds ??= new Set())
  for (const id of ids) if (!(id in ctx.subscriptions)) ids.delete(id)
  return ids
}

const asError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)))

/** `authorization` as clients send it; GraphiQL-style clients capitalise the key. */
function authorizationOf(params: Record<string, unknown> | undefined): string | undefined {
  if (!params) return undefined
  for (const [key, value] of Object.entries(params)) {
    if (key.toLowerCase() === 'authorization' && typeof value === 'string') return value
  }
  return undefined
}
