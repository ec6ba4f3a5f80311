import { createHmac } from 'node:crypto'
import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { checkSecrets, ConfigError, loadConfig, type Config } from '../../src/config/index.js'
import { parseRedisUrl } from '../../src/config/redis-url.js'

const SECRET = 'x'.repeat(32)
const REAL = { MONGODB_URI: 'mongodb://db1:27017,db2:27017/?replicaSet=rs0', CHANGEGATE_JWT_SECRET: SECRET }

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('expected a ConfigError')
}

describe('loadConfig', () => {
  it('applies the documented defaults in embedded mode', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      mongodbUri: undefined,
      mongodbDb: 'changegate',
      redisUrl: undefined,
      jwtSecretGenerated: true,
      nodeId: `${hostname()}-${process.pid}`,
      allowedOrigins: 'same-origin',
      maxSubscriptionsPerSocket: 100,
      maxPayloadBytes: 65536,
      connectionInitTimeoutMs: 3000,
      maxConnectionsPerIp: 256,
      maxConnectionsPerTenant: 1000,
      subscribeRatePerSecond: 20,
      subscribeBurst: 40,
      maxBodyBytes: 1048576,
      maxEventStreamsPerIp: 256,
      maxEventStreamsPerTenant: 1000,
      trustedProxies: [],
      production: false,
      demo: true,
      subscriptionBufferSize: 1024,
      logLevel: 'info',
    })
    expect(config.jwtSecret).toMatch(/^[0-9a-f]{64}$/)
    expect(loadConfig({}).jwtSecret).not.toBe(config.jwtSecret)
  })

  it('derives the cursor secret from the JWT secret unless one is given', () => {
    const derived = createHmac('sha256', SECRET).update('changegate-cursor').digest('hex')
    expect(loadConfig({ CHANGEGATE_JWT_SECRET: SECRET }).cursorSecret).toBe(derived)
    expect(loadConfig({ CHANGEGATE_JWT_SECRET: SECRET, CHANGEGATE_CURSOR_SECRET: 'shared-cursor-secret' }).cursorSecret).toBe(
      'shared-cursor-secret',
    )
  })

  it('reads every variable', () => {
    const config = loadConfig({
      ...REAL,
      PORT: '8080',
      HOST: '0.0.0.0',
      MONGODB_DB: 'shop',
      REDIS_URL: 'rediss://cache:6380/0',
      CHANGEGATE_NODE_ID: 'node-a',
      CHANGEGATE_ALLOWED_ORIGINS: ' https://app.example.com , http://localhost:3000,HTTPS://Admin.Example.com:8443 ',
      CHANGEGATE_MAX_SUBSCRIPTIONS_PER_SOCKET: '5',
      CHANGEGATE_MAX_PAYLOAD_BYTES: '1024',
      CHANGEGATE_CONNECTION_INIT_TIMEOUT_MS: '500',
      CHANGEGATE_MAX_CONNECTIONS_PER_IP: '10',
      CHANGEGATE_MAX_CONNECTIONS_PER_TENANT: '11',
      CHANGEGATE_SUBSCRIBE_RATE: '5',
      CHANGEGATE_SUBSCRIBE_BURST: '7',
      CHANGEGATE_MAX_BODY_BYTES: '4096',
      CHANGEGATE_MAX_EVENT_STREAMS_PER_IP: '12',
      CHANGEGATE_MAX_EVENT_STREAMS_PER_TENANT: '13',
      CHANGEGATE_TRUSTED_PROXIES: ' 10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1 ',
      NODE_ENV: 'production',
      CHANGEGATE_DEMO: '1',
      CHANGEGATE_SUBSCRIPTION_BUFFER: '16',
      CHANGEGATE_LOG_LEVEL: 'warn',
    })
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      mongodbUri: REAL.MONGODB_URI,
      mongodbDb: 'shop',
      redisUrl: 'rediss://cache:6380/0',
      jwtSecret: SECRET,
      jwtSecretGenerated: false,
      nodeId: 'node-a',
      allowedOrigins: ['https://app.example.com', 'http://localhost:3000', 'https://admin.example.com:8443'],
      maxSubscriptionsPerSocket: 5,
      maxPayloadBytes: 1024,
      connectionInitTimeoutMs: 500,
      maxConnectionsPerIp: 10,
      maxConnectionsPerTenant: 11,
      subscribeRatePerSecond: 5,
      subscribeBurst: 7,
      maxBodyBytes: 4096,
      maxEventStreamsPerIp: 12,
      maxEventStreamsPerTenant: 13,
      trustedProxies: ['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::1'],
      production: true,
      demo: true,
      subscriptionBufferSize: 16,
      logLevel: 'warn',
    })
  })

  it('turns the demo off by default with a real replica set, and on request in embedded mode', () => {
    expect(loadConfig(REAL).demo).toBe(false)
    expect(loadConfig({ CHANGEGATE_DEMO: '0' }).demo).toBe(false)
    expect(loadConfig({ MONGODB_URI: 'mongodb+srv://cluster.example.net', CHANGEGATE_JWT_SECRET: SECRET }).mongodbUri).toBe(
      'mongodb+srv://cluster.example.net',
    )
  })

  it('accepts port 0 and treats empty values as absent', () => {
    expect(loadConfig({ PORT: '0' }).port).toBe(0)
    expect(loadConfig({ PORT: '', MONGODB_URI: '', CHANGEGATE_ALLOWED_ORIGINS: ' , ' })).toMatchObject({
      port: 4000,
      mongodbUri: undefined,
      allowedOrigins: 'same-origin',
    })
  })

  it('only production NODE_ENV means production', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).production).toBe(false)
    expect(loadConfig({ NODE_ENV: 'test' }).production).toBe(false)
  })

  it.each([
    [{ PORT: 'abc' }, 'PORT', 'PORT must be an integer 0-65535, got "abc"'],
    [{ PORT: '65536' }, 'PORT', 'PORT must be an integer 0-65535, got "65536"'],
    [{ PORT: '-1' }, 'PORT', 'PORT must be an integer 0-65535, got "-1"'],
    [{ PORT: '80.5' }, 'PORT', 'PORT must be an integer 0-65535, got "80.5"'],
    [{ MONGODB_URI: 'http://db:27017' }, 'MONGODB_URI', 'MONGODB_URI must start with mongodb:// or mongodb+srv://'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL', 'REDIS_URL must start with redis://, rediss://, redis+cluster://'],
    [{ REDIS_URL: 'redis+cluster://' }, 'REDIS_URL', 'REDIS_URL names no cluster seed node'],
    [{ REDIS_URL: 'redis+cluster://a:7000,b' }, 'REDIS_URL', 'REDIS_URL cluster seed nodes must be host:port'],
    [{ REDIS_URL: 'redis+cluster://a:70000' }, 'REDIS_URL', 'REDIS_URL cluster seed nodes must be host:port'],
    [{ CHANGEGATE_REDIS_SHARDED_PUBSUB: 'true' }, 'CHANGEGATE_REDIS_SHARDED_PUBSUB', 'must be 1 or 0'],
    [{ MONGODB_DB: 'a.b' }, 'MONGODB_DB', 'MONGODB_DB must be a database name'],
    [{ CHANGEGATE_JWT_SECRET: 'short' }, 'CHANGEGATE_JWT_SECRET', 'CHANGEGATE_JWT_SECRET must be at least 32 characters, got 5'],
    [{ CHANGEGATE_CURSOR_SECRET: 'short' }, 'CHANGEGATE_CURSOR_SECRET', 'CHANGEGATE_CURSOR_SECRET must be at least 16 characters'],
    [{ CHANGEGATE_ALLOWED_ORIGINS: 'https://ok.example.com,example.com' }, 'CHANGEGATE_ALLOWED_ORIGINS', 'got "example.com"'],
    [{ CHANGEGATE_ALLOWED_ORIGINS: 'https://app.example.com/path' }, 'CHANGEGATE_ALLOWED_ORIGINS', 'must be origins'],
    [{ CHANGEGATE_ALLOWED_ORIGINS: '*' }, 'CHANGEGATE_ALLOWED_ORIGINS', 'must be origins'],
    [{ CHANGEGATE_ALLOWED_ORIGINS: 'ftp://files.example.com' }, 'CHANGEGATE_ALLOWED_ORIGINS', 'must be origins'],
    [{ CHANGEGATE_MAX_SUBSCRIPTIONS_PER_SOCKET: '0' }, 'CHANGEGATE_MAX_SUBSCRIPTIONS_PER_SOCKET', 'must be a positive integer, got "0"'],
    [{ CHANGEGATE_MAX_PAYLOAD_BYTES: '1e6' }, 'CHANGEGATE_MAX_PAYLOAD_BYTES', 'must be a positive integer'],
    [{ CHANGEGATE_CONNECTION_INIT_TIMEOUT_MS: 'soon' }, 'CHANGEGATE_CONNECTION_INIT_TIMEOUT_MS', 'must be a positive integer'],
    [{ CHANGEGATE_SUBSCRIPTION_BUFFER: '-5' }, 'CHANGEGATE_SUBSCRIPTION_BUFFER', 'must be a positive integer'],
    [{ CHANGEGATE_MAX_CONNECTIONS_PER_IP: '0' }, 'CHANGEGATE_MAX_CONNECTIONS_PER_IP', 'must be a positive integer, got "0"'],
    [{ CHANGEGATE_MAX_CONNECTIONS_PER_TENANT: 'many' }, 'CHANGEGATE_MAX_CONNECTIONS_PER_TENANT', 'must be a positive integer'],
    [{ CHANGEGATE_SUBSCRIBE_RATE: '2.5' }, 'CHANGEGATE_SUBSCRIBE_RATE', 'must be a positive integer'],
    [{ CHANGEGATE_SUBSCRIBE_BURST: '0' }, 'CHANGEGATE_SUBSCRIBE_BURST', 'must be a positive integer'],
    [{ CHANGEGATE_MAX_BODY_BYTES: '1MiB' }, 'CHANGEGATE_MAX_BODY_BYTES', 'must be a positive integer'],
    [{ CHANGEGATE_MAX_EVENT_STREAMS_PER_IP: '-1' }, 'CHANGEGATE_MAX_EVENT_STREAMS_PER_IP', 'must be a positive integer'],
    [{ CHANGEGATE_MAX_EVENT_STREAMS_PER_TENANT: '0' }, 'CHANGEGATE_MAX_EVENT_STREAMS_PER_TENANT', 'must be a positive integer'],
    [{ CHANGEGATE_TRUSTED_PROXIES: '10.0.0.0/33' }, 'CHANGEGATE_TRUSTED_PROXIES', 'got "10.0.0.0/33"'],
    [{ CHANGEGATE_TRUSTED_PROXIES: '10.0.0.1,proxy.internal' }, 'CHANGEGATE_TRUSTED_PROXIES', 'got "proxy.internal"'],
    [{ CHANGEGATE_TRUSTED_PROXIES: '10.0.0.0/8/8' }, 'CHANGEGATE_TRUSTED_PROXIES', 'must be IP addresses or CIDR ranges'],
    [{ CHANGEGATE_DEMO: 'yes' }, 'CHANGEGATE_DEMO', 'CHANGEGATE_DEMO must be 1 or 0, got "yes"'],
    [{ CHANGEGATE_LOG_LEVEL: 'loud' }, 'CHANGEGATE_LOG_LEVEL', 'CHANGEGATE_LOG_LEVEL must be one of'],
    [{ CHANGEGATE_NODE_ID: 'node a' }, 'CHANGEGATE_NODE_ID', 'CHANGEGATE_NODE_ID must be'],
  ])('rejects %j naming %s', (env, variable, message) => {
    const error = configError(env)
    expect(error.variable).toBe(variable)
    expect(error.message).toContain(message)
    expect(error.message).not.toContain('\n')
  })

  it('requires the JWT secret with MONGODB_URI, or the cursor secret when tokens come from an identity provider', () => {
    const real = loadConfig({ MONGODB_URI: REAL.MONGODB_URI })
    const secretsError = (config: Config, jwks: boolean) => {
      try {
        checkSecrets(config, jwks)
      } catch (error) {
        return error as ConfigError
      }
      throw new Error('expected a ConfigError')
    }
    expect(secretsError(real, false).variable).toBe('CHANGEGATE_JWT_SECRET')
    expect(secretsError(real, false).message).toContain('CHANGEGATE_JWT_SECRET is required when MONGODB_URI is set')
    expect(secretsError(real, true).variable).toBe('CHANGEGATE_CURSOR_SECRET')
    expect(() => checkSecrets(loadConfig({ MONGODB_URI: REAL.MONGODB_URI, CHANGEGATE_CURSOR_SECRET: 'shared-cursor-secret' }), true)).not.toThrow()
    expect(() => checkSecrets(loadConfig(REAL), false)).not.toThrow()
    expect(() => checkSecrets(loadConfig({}), false)).not.toThrow()
  })

  it('never echoes a secret or a connection string in its errors', () => {
    expect(configError({ CHANGEGATE_JWT_SECRET: 'hunter2-hunter2' }).message).not.toContain('hunter2')
    expect(configError({ CHANGEGATE_CURSOR_SECRET: 'hunter2' }).message).not.toContain('hunter2')
    expect(configError({ MONGODB_URI: 'mongo://admin:hunter2@db' }).message).not.toContain('hunter2')
    expect(configError({ REDIS_URL: 'http://:hunter2@cache' }).message).not.toContain('hunter2')
    expect(configError({ REDIS_URL: 'redis+cluster://:hunter2@cache' }).message).not.toContain('hunter2')
  })

  it('reads a Redis Cluster by its seed nodes, and the sharded pub/sub switch', () => {
    const config = loadConfig({ REDIS_URL: 'redis+cluster://user:p%40ss@r1:7000,r2:7001,[::1]:7002', CHANGEGATE_REDIS_SHARDED_PUBSUB: '1' })
    expect(config.redisShardedPubSub).toBe(true)
    expect(parseRedisUrl(config.redisUrl!)).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'r1', port: 7000 },
        { host: 'r2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      username: 'user',
      password: 'p@ss',
      tls: false,
    })
    expect(parseRedisUrl('rediss://cache:6380/0')).toEqual({ kind: 'single', url: 'rediss://cache:6380/0' })
    expect(loadConfig({}).redisShardedPubSub).toBe(false)
  })
})
