import { GraphQLError } from 'graphql'

/**
 * Stable error codes, carried as `extensions.code` on every error a client sees. Clients branch on these, never
 * on message text.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  INVALID_CURSOR: 'INVALID_CURSOR',
  CURSOR_EXPIRED: 'CURSOR_EXPIRED',
  STREAM_INVALIDATED: 'STREAM_INVALIDATED',
  SUBSCRIPTION_LIMIT: 'SUBSCRIPTION_LIMIT',
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode))

/**
 * An error meant for clients: its message is safe to show (it never carries internal text such as driver
 * messages or stack traces) and `extensions.code` is one of {@link ErrorCode}.
 *
 * It is a `GraphQLError`, so GraphQL execution and the transports pass it through unmasked.
 */
export class GatewayError extends GraphQLError {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string) {
    super(message, { extensions: { code } })
    this.code = code
  }
}

export function isGatewayError(e: unknown): e is GatewayError {
  return e instanceof GatewayError
}

/**
 * True when `e` carries `code`: a {@link GatewayError}, or any GraphQL error whose `extensions.code` is `code`
 * (for example one that crossed a node boundary and was rebuilt from its serialized form).
 */
export function hasCode(e: unknown, code: ErrorCode): boolean {
  if (e instanceof GatewayError) return e.code === code
  if (e instanceof GraphQLError) return e.extensions?.code === code
  return false
}

/** Client-safe default message per code. */
export const DEFAULT_MESSAGES: Readonly<Record<ErrorCode, string>> = {
  UNAUTHENTICATED: 'Forbidden',
  FORBIDDEN: 'Forbidden',
  BAD_USER_INPUT: 'Bad user input',
  INVALID_CURSOR: 'Invalid cursor',
  CURSOR_EXPIRED: 'Cursor expired: the change history it points into is no longer retained',
  STREAM_INVALIDATED: 'Stream invalidated: the collection was dropped or renamed',
  SUBSCRIPTION_LIMIT: 'Too many subscriptions on this connection',
  SLOW_CONSUMER: 'Subscriber fell too far behind; resubscribe with the last cursor received',
  INTERNAL_SERVER_ERROR: 'Internal server error',
}

/**
 * Rebuilds a {@link GatewayError} from a code received as data (e.g. over Redis). Unknown codes become
 * INTERNAL_SERVER_ERROR, whose message is always the masked default.
 */
export function gatewayErrorFromCode(code: unknown, message?: string): GatewayError {
  if (typeof code === 'string' && CODES.has(code)) {
    const known = code as ErrorCode
    if (known === ErrorCode.INTERNAL_SERVER_ERROR) return internalError()
    return new GatewayError(known, message ?? DEFAULT_MESSAGES[known])
  }
  return internalError()
}

const factory =
  (code: ErrorCode) =>
  (message: string = DEFAULT_MESSAGES[code]): GatewayError =>
    new GatewayError(code, message)

/** A client argument is invalid; the message says which one and why. */
export const badUserInput = (message: string): GatewayError => new GatewayError(ErrorCode.BAD_USER_INPUT, message)
/** Missing or bad credentials. The message never says why. */
export const unauthenticated = factory(ErrorCode.UNAUTHENTICATED)
/** Authenticated, but not allowed (e.g. an operational query without the `admin` scope). */
export const forbidden = factory(ErrorCode.FORBIDDEN)
/** A cursor that is forged, malformed, another tenant's, or for another collection. */
export const invalidCursor = factory(ErrorCode.INVALID_CURSOR)
/** A cursor older than the change history MongoDB retains. */
export const cursorExpired = factory(ErrorCode.CURSOR_EXPIRED)
/** The collection was dropped or renamed. */
export const streamInvalidated = factory(ErrorCode.STREAM_INVALIDATED)
/** The socket already holds the maximum number of subscriptions. */
export const subscriptionLimit = factory(ErrorCode.SUBSCRIPTION_LIMIT)
/** The subscriber fell too far behind and was ended; it resumes with its last cursor. */
export const slowConsumer = factory(ErrorCode.SLOW_CONSUMER)
/** Anything unexpected, masked: no internal message, no stack. */
export const internalError = factory(ErrorCode.INTERNAL_SERVER_ERROR)
