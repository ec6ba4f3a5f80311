import { createHmac, randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { parseRedisUrl } from './redis-url.js'

/**
 * Gateway configuration, read from the environment once at start. This module is the only reader of
 * `process.env`.
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `PORT`, `HOST` | listen address | `4000`, `127.0.0.1` |
 * | `MONGODB_URI` | replica set to watch (`mongodb://` or `mongodb+srv://`); absent = embedded server | absent |
 * | `MONGODB_DB` | database holding the collections | `changegate` |
 * | `REDIS_URL` | Redis for cross-node fan-out, leases, positions (`redis://` or `rediss://`); a Redis Cluster by its seed nodes: `redis+cluster://[user:password@]host:port[,host:port…]` (`rediss+cluster://` for TLS); absent = single node | absent |
 * | `CHANGEGATE_REDIS_SHARDED_PUBSUB` | `1`: fan-out over sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis ≥ 7), each stream's messages stay on the shard owning its slot; `0`: classic pub/sub, broadcast to every node of a cluster | `0` |
 * | `CHANGEGATE_JWT_SECRET` | HS256 secret for bearer tokens, at least 32 characters | embedded mode: random; otherwise required |
 * | `CHANGEGATE_NODE_ID` | node name in status and leases | `hostname-pid` |
 * | `CHANGEGATE_CURSOR_SECRET` | HMAC key for cursors, shared by every node; at least 16 characters | HMAC-SHA256(JWT secret, `changegate-cursor`) |
 * | `CHANGEGATE_ALLOWED_ORIGINS` | comma list of browser origins (`https://host[:port]`) allowed to open WebSockets | same-origin only |
 * | `CHANGEGATE_MAX_SUBSCRIPTIONS_PER_SOCKET` | subscriptions one socket may hold | `100` |
 * | `CHANGEGATE_MAX_PAYLOAD_BYTES` | largest WebSocket message accepted | `65536` |
 * | `CHANGEGATE_CONNECTION_INIT_TIMEOUT_MS` | time a socket has to send `connection_init` | `3000` |
 * | `CHANGEGATE_MAX_CONNECTIONS_PER_IP` | open WebSockets from one client address; the next upgrade gets HTTP 429 | `256` |
 * | `CHANGEGATE_MAX_CONNECTIONS_PER_TENANT` | acknowledged WebSockets of one tenant on this node; the next `connection_init` is closed with 4503 | `1000` |
 * | `CHANGEGATE_SUBSCRIBE_RATE`, `CHANGEGATE_SUBSCRIBE_BURST` | token bucket per WebSocket for starting subscriptions (per second, bucket size); over it a subscription gets `SUBSCRIPTION_LIMIT` | `20`, `40` |
 * | `CHANGEGATE_MAX_BODY_BYTES` | largest HTTP request body; larger gets HTTP 413 | `1048576` |
 * | `CHANGEGATE_MAX_EVENT_STREAMS_PER_IP`, `CHANGEGATE_MAX_EVENT_STREAMS_PER_TENANT` | open SSE responses from one client address / of one tenant; the next gets HTTP 429 | `256`, `1000` |
 * | `CHANGEGATE_TRUSTED_PROXIES` | comma list of proxy addresses or CIDR ranges whose `X-Forwarded-For` names the client | none: the peer address is the client |
 * | `NODE_ENV` | `production`: introspection and suggestions off, errors name no schema name the request did not write | dev mode |
 * | `CHANGEGATE_DEMO` | `1`: seed demo data and write demo traffic; `0`: off | `1` in embedded mode, else `0` |
 * | `CHANGEGATE_CONSOLE` | `1`: serve the live console at `/console` (it needs a token with scope `admin`); `0`: off | `1` in dev mode, `0` in production |
 * | `CHANGEGATE_SUBSCRIPTION_BUFFER` | events queued per subscription; past it the subscription re-reads from MongoDB at its own pace | `1024` |
 * | `CHANGEGATE_SLOW_CONSUMER_TIMEOUT_MS` | a subscription with events waiting that reads none for this long ends with `SLOW_CONSUMER`; a WebSocket answering no ping for this long plus a ping interval is closed with 4410 | `30000` |
 * | `CHANGEGATE_LINGER_MS` | how long a stream (or a live aggregate) without subscribers stays open | `10000` |
 * | `CHANGEGATE_AGGREGATE_MAX_GROUPS` | distinct groups one live aggregate may hold over its window; beyond it the aggregate ends with `BAD_USER_INPUT` | `1000` |
 * | `CHANGEGATE_CONFIG` | the configuration file of models and identity provider (`.ts`, `.mjs`, `.js`, `.json`) | `./changegate.config.ts`, then `.json`, else the built-in demo |
 * | `CHANGEGATE_LOG_LEVEL` | `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent` | `info` |
 *
 * Empty values count as absent.
 */
export interface Config {
  readonly port: number
  readonly host: string
  readonly mongodbUri: string | undefined
  readonly mongodbDb: string
  readonly redisUrl: string | undefined
  /** Fan-out over sharded pub/sub (Redis ≥ 7) instead of classic pub/sub. */
  readonly redisShardedPubSub: boolean
  readonly jwtSecret: string
  /** True when no `CHANGEGATE_JWT_SECRET` was given: the secret is random for this process. */
  readonly jwtSecretGenerated: boolean
  /** True when no `CHANGEGATE_CURSOR_SECRET` was given: the key is derived from the JWT secret. */
  readonly cursorSecretGenerated: boolean
  readonly nodeId: string
  readonly cursorSecret: string
  readonly allowedOrigins: readonly string[] | 'same-origin'
  readonly maxSubscriptionsPerSocket: number
  readonly maxPayloadBytes: number
  readonly connectionInitTimeoutMs: number
  /** Open WebSockets per client address (IPv6: per /64). */
  readonly maxConnectionsPerIp: number
  /** Acknowledged WebSockets per tenant, on this node. */
  readonly maxConnectionsPerTenant: number
  /** Subscriptions per second one WebSocket may start, sustained (queries do not count). */
  readonly subscribeRatePerSecond: number
  /** Subscriptions one WebSocket may start at once (token bucket size). */
  readonly subscribeBurst: number
  readonly maxBodyBytes: number
  /** Open SSE responses per client address (IPv6: per /64). */
  readonly maxEventStreamsPerIp: number
  /** Open SSE responses per tenant, on this node. */
  readonly maxEventStreamsPerTenant: number
  /** Addresses and CIDR ranges (`10.0.0.0/8`, `fd00::/8`) of proxies whose `X-Forwarded-For` is believed. */
  readonly trustedProxies: readonly string[]
  readonly production: boolean
  readonly demo: boolean
  /** Serve the live console at `/console`. */
  readonly console: boolean
  readonly subscriptionBufferSize: number
  readonly slowConsumerTimeoutMs: number
  readonly lingerMs: number
  readonly aggregateMaxGroups: number
  readonly logLevel: LogLevel
  /** CHANGEGATE_CONFIG: path of the configuration file; undefined = look in the working directory, else the demo. */
  readonly configFile: string | undefined
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** Invalid configuration; the message is one line naming the variable (and never echoes a secret). */
export class ConfigError extends Error {
  readonly variable: string

  constructor(variable: string, message: string) {
    super(message)
    this.name = 'ConfigError'
    this.variable = variable
  }
}

export const MIN_JWT_SECRET_LENGTH = 32
export const MIN_CURSOR_SECRET_LENGTH = 16

type Env = Record<string, string | undefined>

const read = (env: Env, name: string): string | undefined => {
  const value = env[name]?.trim()
  return value ? value : undefined
}

const quote = (value: string) => JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)

function integer(env: Env, name: string, fallback: number, min: number, max: number, what: string): number {
  const raw = read(env, name)
  if (raw === undefined) return fallback
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `${name} must be ${what}, got ${quote(raw)}`)
  }
  return value
}

const positive = (env: Env, name: string, fallback: number) =>
  integer(env, name, fallback, 1, Number.MAX_SAFE_INTEGER, 'a positive integer')

function url(env: Env, name: string, schemes: readonly string[]): string | undefined {
  const raw = read(env, name)
  if (raw === undefined) return undefined
  if (!schemes.some((s) => raw.startsWith(`${s}://`) && raw.length > s.length + 3)) {
    const list = schemes.map((s) => `${s}://`).join(' or ')
    // the URI may carry a password: name the variable and the rule, not the value
    throw new ConfigError(name, `${name} must start with ${list}`)
  }
  return raw
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)
  if (raw === undefined) return fallback
  if (raw === '1') return true
  if (raw === '0') return false
  throw new ConfigError(name, `${name} must be 1 or 0, got ${quote(raw)}`)
}

const ORIGIN_SHAPE = /^https?:\/\/[^/?#@\s]+$/i

function origins(env: Env, name: string): readonly string[] | 'same-origin' {
  const raw = read(env, name)
  if (raw === undefined) return 'same-origin'
  const list: string[] = []
  for (const entry of raw.split(',').map((s) => s.trim())) {
    if (!entry) continue
    let origin: string | undefined
    if (ORIGIN_SHAPE.test(entry)) {
      try {
        origin = new URL(entry).origin
      } catch {
        origin = undefined
      }
    }
    if (!origin || origin === 'null') {
      throw new ConfigError(name, `${name} entries must be origins like https://app.example.com[:port], got ${quote(entry)}`)
    }
    if (!list.includes(origin)) list.push(origin)
  }
  return list.length === 0 ? 'same-origin' : list
}

/** Entries `address` or `address/prefix` (IPv4 or IPv6), normalised; invalid entries stop the start. */
function addressRanges(env: Env, name: string): readonly string[] {
  const raw = read(env, name)
  if (raw === undefined) return []
  const list: string[] = []
  for (const entry of raw.split(',').map((s) => s.trim())) {
    if (!entry) continue
    const [address, prefix, extra] = entry.split('/')
    const family = isIP(address)
    const bits = family === 4 ? 32 : 128
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits)
    if (family === 0 || extra !== undefined || !prefixOk) {
      throw new ConfigError(name, `${name} entries must be IP addresses or CIDR ranges like 10.0.0.0/8, got ${quote(entry)}`)
    }
    list.push(prefix === undefined ? address : `${address}/${Number(prefix)}`)
  }
  return list
}

const NODE_ID = /^[\x21-\x7e]{1,128}$/
const DB_NAME = /^[^/\\. "$*<>:|?]{1,63}$/

/** Reads and validates the configuration; throws {@link ConfigError} on the first invalid variable. */
export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 4000, 0, 65535, 'an integer 0-65535')
  const host = read(env, 'HOST') ?? '127.0.0.1'
  const mongodbUri = url(env, 'MONGODB_URI', ['mongodb', 'mongodb+srv'])
  const mongodbDb = read(env, 'MONGODB_DB') ?? 'changegate'
  if (!DB_NAME.test(mongodbDb)) {
    throw new ConfigError('MONGODB_DB', `MONGODB_DB must be a database name (1-63 characters, none of /\\. "$*<>:|?), got ${quote(mongodbDb)}`)
  }
  const redisUrl = read(env, 'REDIS_URL')
  if (redisUrl !== undefined) {
    try {
      parseRedisUrl(redisUrl)
    } catch (error) {
      throw new ConfigError('REDIS_URL', `REDIS_URL ${(error as Error).message}`)
    }
  }

  const givenSecret = read(env, 'CHANGEGATE_JWT_SECRET')
  if (givenSecret !== undefined && givenSecret.length < MIN_JWT_SECRET_LENGTH) {
    throw new ConfigError(
      'CHANGEGATE_JWT_SECRET',
      `CHANGEGATE_JWT_SECRET must be at least ${MIN_JWT_SECRET_LENGTH} characters, got ${givenSecret.length}`,
    )
  }
  const jwtSecret = givenSecret ?? randomBytes(32).toString('hex')

  const givenCursorSecret = read(env, 'CHANGEGATE_CURSOR_SECRET')
  if (givenCursorSecret !== undefined && givenCursorSecret.length < MIN_CURSOR_SECRET_LENGTH) {
    throw new ConfigError(
      'CHANGEGATE_CURSOR_SECRET',
      `CHANGEGATE_CURSOR_SECRET must be at least ${MIN_CURSOR_SECRET_LENGTH} characters, got ${givenCursorSecret.length}`,
    )
  }

  const givenNodeId = read(env, 'CHANGEGATE_NODE_ID')
  const nodeId = givenNodeId ?? `${hostname()}-${process.pid}`
  if (givenNodeId !== undefined && !NODE_ID.test(givenNodeId)) {
    throw new ConfigError('CHANGEGATE_NODE_ID', `CHANGEGATE_NODE_ID must be 1-128 printable characters without spaces, got ${quote(nodeId)}`)
  }

  const logLevel = read(env, 'CHANGEGATE_LOG_LEVEL') ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('CHANGEGATE_LOG_LEVEL', `CHANGEGATE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${quote(logLevel)}`)
  }

  return {
    port,
    host,
    mongodbUri,
    mongodbDb,
    redisUrl,
    redisShardedPubSub: flag(env, 'CHANGEGATE_REDIS_SHARDED_PUBSUB', false),
    jwtSecret,
    jwtSecretGenerated: givenSecret === undefined,
    cursorSecretGenerated: givenCursorSecret === undefined,
    nodeId,
    cursorSecret: givenCursorSecret ?? createHmac('sha256', jwtSecret).update('changegate-cursor').digest('hex'),
    allowedOrigins: origins(env, 'CHANGEGATE_ALLOWED_ORIGINS'),
    maxSubscriptionsPerSocket: positive(env, 'CHANGEGATE_MAX_SUBSCRIPTIONS_PER_SOCKET', 100),
    maxPayloadBytes: positive(env, 'CHANGEGATE_MAX_PAYLOAD_BYTES', 65536),
    connectionInitTimeoutMs: positive(env, 'CHANGEGATE_CONNECTION_INIT_TIMEOUT_MS', 3000),
    maxConnectionsPerIp: positive(env, 'CHANGEGATE_MAX_CONNECTIONS_PER_IP', 256),
    maxConnectionsPerTenant: positive(env, 'CHANGEGATE_MAX_CONNECTIONS_PER_TENANT', 1000),
    subscribeRatePerSecond: positive(env, 'CHANGEGATE_SUBSCRIBE_RATE', 20),
    subscribeBurst: positive(env, 'CHANGEGATE_SUBSCRIBE_BURST', 40),
    maxBodyBytes: positive(env, 'CHANGEGATE_MAX_BODY_BYTES', 1024 * 1024),
    maxEventStreamsPerIp: positive(env, 'CHANGEGATE_MAX_EVENT_STREAMS_PER_IP', 256),
    maxEventStreamsPerTenant: positive(env, 'CHANGEGATE_MAX_EVENT_STREAMS_PER_TENANT', 1000),
    trustedProxies: addressRanges(env, 'CHANGEGATE_TRUSTED_PROXIES'),
    production: read(env, 'NODE_ENV') === 'production',
    demo: flag(env, 'CHANGEGATE_DEMO', mongodbUri === undefined),
    console: flag(env, 'CHANGEGATE_CONSOLE', read(env, 'NODE_ENV') !== 'production'),
    subscriptionBufferSize: positive(env, 'CHANGEGATE_SUBSCRIPTION_BUFFER', 1024),
    slowConsumerTimeoutMs: positive(env, 'CHANGEGATE_SLOW_CONSUMER_TIMEOUT_MS', 30_000),
    lingerMs: positive(env, 'CHANGEGATE_LINGER_MS', 10_000),
    aggregateMaxGroups: positive(env, 'CHANGEGATE_AGGREGATE_MAX_GROUPS', 1000),
    logLevel: logLevel as LogLevel,
    configFile: read(env, 'CHANGEGATE_CONFIG'),
  }
}

/**
 * Secrets the chosen authentication needs, checked once the configuration file is known: HS256 tokens need
 * CHANGEGATE_JWT_SECRET outside embedded mode; with an identity provider (JWKS) the cursor key must then be given
 * instead, since there is no JWT secret to derive it from.
 */
export function checkSecrets(config: Config, usesIdentityProvider: boolean): void {
  if (!config.jwtSecretGenerated || config.mongodbUri === undefined) return
  if (!usesIdentityProvider) {
    throw new ConfigError(
      'CHANGEGATE_JWT_SECRET',
      `CHANGEGATE_JWT_SECRET is required when MONGODB_URI is set (at least ${MIN_JWT_SECRET_LENGTH} characters)`,
    )
  }
  if (config.cursorSecretGenerated) {
    throw new ConfigError(
      'CHANGEGATE_CURSOR_SECRET',
      `CHANGEGATE_CURSOR_SECRET is required when MONGODB_URI is set and tokens come from an identity provider (at least ${MIN_CURSOR_SECRET_LENGTH} characters)`,
    )
  }
}
