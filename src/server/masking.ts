import { GraphQLError, Kind, type GraphQLFormattedError } from 'graphql'
import { DEFAULT_MESSAGES, ErrorCode, isGatewayError } from '../errors.js'

/**
 * Whether an error may reach a client as it is. Two kinds may:
 * - a {@link GatewayError} (a resolver or a stream threw it; GraphQL wraps it with a path, keeping its code);
 * - a GraphQL error the machinery raised itself, without an underlying cause: syntax, validation, request
 *   errors;
 * - a variable coercion error: located at a variable definition, outside execution (no path), caused only by
 *   GraphQL errors (a built-in scalar or enum refusing the client's value).
 * Anything else (a driver error, a TypeError, a GraphQLError some library threw from a resolver) is internal.
 */
export function isClientSafe(error: unknown): error is GraphQLError {
  if (!(error instanceof GraphQLError)) return false
  let root: unknown = error
  while (root instanceof GraphQLError && root.originalError != null) {
    if (isGatewayError(root)) return true
    root = root.originalError
  }
  return root === error || isGatewayError(root) || (root instanceof GraphQLError && isVariableCoercion(error))
}

const isVariableCoercion = (error: GraphQLError) =>
  error.path === undefined && !!error.nodes?.length && error.nodes.every((node) => node.kind === Kind.VARIABLE_DEFINITION)

/**
 * Masks at the edge, whatever `NODE_ENV` says: an error that is not client-safe becomes "Internal server error"
 * with `extensions.code: INTERNAL_SERVER_ERROR` (keeping only its locations and path). A client-safe error
 * without a code gets `BAD_USER_INPUT` (they all come from the client's request). Idempotent.
 */
export function maskError(error: unknown): GraphQLError {
  const located = error instanceof GraphQLError ? error : undefined
  if (isClientSafe(error)) {
    if (typeof error.extensions?.code === 'string') return error
    return rebuild(error, error.message, { ...error.extensions, code: ErrorCode.BAD_USER_INPUT })
  }
  return rebuild(located, DEFAULT_MESSAGES.INTERNAL_SERVER_ERROR, { code: ErrorCode.INTERNAL_SERVER_ERROR })
}

function rebuild(like: GraphQLError | undefined, message: string, extensions: Record<string, unknown>): GraphQLError {
  const rebuilt = new GraphQLError(message, {
    nodes: like?.nodes,
    source: like?.source,
    positions: like?.positions,
    path: like?.path,
    extensions,
  })
  // Errors of compiled executions (graphql-jit) carry their locations without the nodes they came from.
  if (rebuilt.locations === undefined && like?.locations?.length) {
    ;(rebuilt as { locations?: GraphQLError['locations'] }).locations = like.locations
  }
  return rebuilt
}

/** Extensions that steer the HTTP response and never belong in a payload. */
const INTERNAL_EXTENSIONS = new Set(['http', 'unexpected', 'originalError'])

/** The JSON a client receives for an already-masked error. */
export function toClientJSON(error: GraphQLError): GraphQLFormattedError {
  const json = error.toJSON()
  if (!json.extensions) return json
  const extensions = Object.fromEntries(Object.entries(json.extensions).filter(([key]) => !INTERNAL_EXTENSIONS.has(key)))
  return { ...json, extensions }
}

/** The `extensions.code` a client sees for an error, for metrics. */
export function codeOf(error: { extensions?: Record<string, unknown> | null }): string {
  const code = error.extensions?.code
  return typeof code === 'string' ? code : ErrorCode.INTERNAL_SERVER_ERROR
}
