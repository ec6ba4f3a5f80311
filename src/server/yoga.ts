import type { GraphQLSchema } from 'graphql'
import type { Plugin } from 'graphql-yoga'
import { createYoga, type YogaLogger, type YogaServerInstance } from 'graphql-yoga'
import type { Config } from '../config/index.js'
import { unauthenticated } from '../errors.js'
import type { Logger } from '../observability/logger.js'
import type { AuthContext } from './auth.js'
import { useCsrfPrevention } from './csrf.js'
import { createOfflineGraphiQLRenderer, graphiqlOptions } from './graphiql.js'
import { useHardening } from './hardening.js'
import { maskError } from './masking.js'
import { useOrderedExecution } from './ordered-execution.js'
import { useResultTracking, type ResultTracker, type StreamTracking } from './tracking.js'

/** What each transport hands to yoga: the caller, authenticated before anything runs. */
export interface TransportContext {
  auth?: AuthContext
}

export type GatewayYoga = YogaServerInstance<TransportContext, Record<string, unknown>>

export const GRAPHQL_PATH = '/graphql'

export interface GatewayYogaOptions {
  schema: GraphQLSchema
  config: Pick<Config, 'production' | 'allowedOrigins'>
  createContext: (auth: AuthContext) => Record<string, unknown>
  logger: Logger
  tracker: ResultTracker
  graphiqlHeaders?: Record<string, string>
  /** Extra envelop plugins from the application (run on every transport). */
  plugins?: Plugin[]
}

/**
 * The one GraphQL pipeline (envelop) every transport executes through: HTTP and SSE directly, WebSocket via
 * `yoga.getEnveloped`. Parsing, validation, limits, masking and the context are therefore the same everywhere.
 */
export function createGatewayYoga(opts: GatewayYogaOptions): { yoga: GatewayYoga; streams: Pick<StreamTracking, 'active' | 'drained'> } {
  const { production, allowedOrigins } = opts.config
  const streams = useResultTracking(opts.tracker)
  const yoga: GatewayYoga = createYoga<TransportContext, Record<string, unknown>>({
    schema: opts.schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    batching: false,
    multipart: false,
    logging: yogaLogger(opts.logger),
    // Same-origin pages need no CORS; listed origins may call the API from the browser.
    cors: allowedOrigins === 'same-origin' ? false : { origin: [...allowedOrigins], credentials: false },
    graphiql: production ? false : graphiqlOptions(opts.graphiqlHeaders),
    renderGraphiQL: createOfflineGraphiQLRenderer(),
    maskedErrors: { maskError: (error) => maskError(error), isDev: false },
    context: ({ auth }) => {
      if (!auth) throw unauthenticated()
      return { ...opts.createContext(auth), auth }
    },
    plugins: [useCsrfPrevention(), useHardening({ production }), useOrderedExecution(), streams.plugin, ...(opts.plugins ?? [])],
  })
  return { yoga, streams }
}

function yogaLogger(logger: Logger): YogaLogger {
  const log =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]) => {
      const [first, ...rest] = args
      if (first instanceof Error) logger[level]({ err: first }, rest.map(String).join(' ') || first.message)
      else logger[level](args.map(String).join(' '))
    }
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }
}
