import {
  GraphQLError,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedDirective,
  isSpecifiedScalarType,
  print,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql'
import { isAsyncIterable, type Plugin } from 'graphql-yoga'
import { isGatewayError } from '../errors.js'

/** What stands in an error message for a schema name the request did not write. */
export const HIDDEN_NAME = '[hidden]'

const IDENTIFIER = /[_A-Za-z][_0-9A-Za-z]*/g
const QUOTED = /"(?:[^"\\]|\\.)*"/g
const SUGGESTION = /\s*Did you mean\b[^?]*\?/g

interface SchemaNames {
  /** Every name the schema defines (types, fields, arguments, enum values, directives), built-ins excepted. */
  readonly all: ReadonlySet<string>
  /**
   * The subset unmistakable outside quotes: type names (root types excepted), enum values and camel-case names. An
   * all-lowercase field such as `status` or `cursor` is also an English word, and only counts when quoted.
   */
  readonly bare: ReadonlySet<string>
}

const namesBySchema = new WeakMap<GraphQLSchema, SchemaNames>()

function schemaNames(schema: GraphQLSchema): SchemaNames {
  const known = namesBySchema.get(schema)
  if (known) return known
  const all = new Set<string>()
  const bare = new Set<string>()
  const add = (name: string, unmistakable = !/^[a-z0-9]+$/.test(name)) => {
    all.add(name)
    if (unmistakable) bare.add(name)
  }
  // Root types are usually named Query, Mutation, Subscription: English words too (armor writes "Query Cost").
  const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()])
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue
    add(type.name, !roots.has(type as never))
    if (isEnumType(type)) for (const value of type.getValues()) add(value.name, true)
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        add(field.name)
        if ('args' in field) for (const arg of field.args) add(arg.name)
      }
    }
  }
  for (const directive of schema.getDirectives()) {
    if (isSpecifiedDirective(directive)) continue
    add(directive.name)
    for (const arg of directive.args) add(arg.name)
  }
  const names = { all, bare }
  namesBySchema.set(schema, names)
  return names
}

/** The identifiers a request wrote: in its document (comments included), its variables and its operation name. */
export function namesWrittenBy(request: { document?: DocumentNode; variables?: unknown; operationName?: unknown }): Set<string> {
  const document = request.document ? (request.document.loc?.source.body ?? print(request.document)) : ''
  const text = `${document} ${JSON.stringify(request.variables ?? null)} ${typeof request.operationName === 'string' ? request.operationName : ''}`
  return new Set(text.match(IDENTIFIER))
}

/**
 * An error message without suggestions ("Did you mean …?") and with every schema name the request did not write
 * itself replaced by {@link HIDDEN_NAME}. Inside quotes (where GraphQL puts names) any schema name counts;
 * outside quotes only unmistakable ones (type names, enum values, camel-case names), and only in messages GraphQL
 * itself or a scalar wrote: the gateway's own messages name only arguments the request passed.
 */
export function hideSchemaNames(message: string, schema: GraphQLSchema, written: ReadonlySet<string>, ownMessage = false): string {
  const names = schemaNames(schema)
  const hide = (set: ReadonlySet<string>) => (text: string) =>
    text.replace(IDENTIFIER, (word) => (set.has(word) && !written.has(word) ? HIDDEN_NAME : word))
  const hideQuoted = hide(names.all)
  const hideBare = ownMessage ? (text: string) => text : hide(names.bare)
  const unsuggested = message.replace(SUGGESTION, '')
  const quoted = unsuggested.match(QUOTED) ?? []
  return unsuggested
    .split(QUOTED)
    .map((part, i) => hideBare(part) + (i < quoted.length ? hideQuoted(quoted[i]) : ''))
    .join('')
}

/** Whether the gateway wrote the error (a resolver or a stream threw a GatewayError), not GraphQL itself. */
function isOwnError(error: GraphQLError): boolean {
  let cause: unknown = error
  while (cause instanceof GraphQLError) {
    if (isGatewayError(cause)) return true
    cause = cause.originalError
  }
  return false
}

function withMessage(error: GraphQLError, message: string): GraphQLError {
  if (message === error.message) return error
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  })
}

function hideInErrors<E extends Error>(errors: readonly E[], schema: GraphQLSchema, written: ReadonlySet<string>): Array<E | GraphQLError> {
  return errors.map((error) =>
    error instanceof GraphQLError ? withMessage(error, hideSchemaNames(error.message, schema, written, isOwnError(error))) : error,
  )
}

/** The names a request wrote, worked out only if one of its results carries errors (once). */
type Written = () => ReadonlySet<string>

function hideInResult(result: ExecutionResult, schema: GraphQLSchema, written: Written): ExecutionResult {
  if (!result.errors?.length) return result
  return { ...result, errors: hideInErrors(result.errors, schema, written()) as GraphQLError[] }
}

interface ResultHookPayload {
  result: unknown
  setResult: (result: never) => void
}

/** Rewrites a single result now, or every result of a stream as it passes. */
function hideInResults(payload: ResultHookPayload, schema: GraphQLSchema, written: Written) {
  if (!isAsyncIterable(payload.result)) {
    payload.setResult(hideInResult(payload.result as ExecutionResult, schema, written) as never)
    return undefined
  }
  return {
    onNext(next: ResultHookPayload) {
      next.setResult(hideInResult(next.result as ExecutionResult, schema, written) as never)
    },
  }
}

function writtenBy(args: { document: DocumentNode; variableValues?: unknown; operationName?: unknown }): Written {
  let names: Set<string> | undefined
  return () => (names ??= namesWrittenBy({ document: args.document, variables: args.variableValues, operationName: args.operationName }))
}

const paramsOf = (context: unknown) =>
  (context as { params?: { variables?: unknown; operationName?: unknown } } | undefined)?.params ?? {}

/**
 * Production: no error message names a type, field, argument or enum value the request did not write itself,
 * and none suggests one. Applies to validation errors, variable and argument coercion errors, and errors from
 * resolvers and streams, on every transport (they all run through these envelop phases).
 */
export function useSchemaNameHiding(): Plugin {
  return {
    onValidate({ params, context }) {
      return ({ valid, result, setResult }) => {
        if (valid) return
        const written = namesWrittenBy({ document: params.documentAST, ...paramsOf(context) })
        setResult(hideInErrors(result, params.schema, written))
      }
    },
    onExecute({ args }) {
      return { onExecuteDone: (payload) => hideInResults(payload as ResultHookPayload, args.schema, writtenBy(args)) }
    },
    onSubscribe({ args }) {
      return { onSubscribeResult: (payload) => hideInResults(payload as ResultHookPayload, args.schema, writtenBy(args)) }
    },
  }
}
