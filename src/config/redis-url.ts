/**
 * `REDIS_URL` names either one Redis (`redis://` or `rediss://`, also a Sentinel-fronted address ioredis accepts) or
 * a Redis Cluster by its seed nodes: `redis+cluster://[user:password@]host:port[,host:port…]` (`rediss+cluster://`
 * for TLS). The cluster form is not a WHATWG URL (several hosts), so it is parsed here.
 */

export interface RedisSeedNode {
  readonly host: string
  readonly port: number
}

export type RedisTarget =
  | { readonly kind: 'single'; readonly url: string }
  | {
      readonly kind: 'cluster'
      readonly nodes: readonly RedisSeedNode[]
      readonly username: string | undefined
      readonly password: string | undefined
      readonly tls: boolean
    }

export const REDIS_SCHEMES = ['redis', 'rediss', 'redis+cluster', 'rediss+cluster'] as const

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/

/** Parses a `REDIS_URL` value; the error message never echoes the value (it may carry a password). */
export function parseRedisUrl(raw: string): RedisTarget {
  const scheme = /^([a-z+]+):\/\//.exec(raw)?.[1]
  if (scheme === 'redis' || scheme === 'rediss') return { kind: 'single', url: raw }
  if (scheme !== 'redis+cluster' && scheme !== 'rediss+cluster') {
    throw new TypeError(`must start with ${REDIS_SCHEMES.map((s) => `${s}://`).join(', ')}`)
  }
  let rest = raw.slice(scheme.length + 3).replace(/\/\d*$/, '')
  let username: string | undefined
  let password: string | undefined
  const at = rest.lastIndexOf('@')
  if (at >= 0) {
    const credentials = rest.slice(0, at)
    rest = rest.slice(at + 1)
    const colon = credentials.indexOf(':')
    username = decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : credentials) || undefined
    password = colon >= 0 ? decodeURIComponent(credentials.slice(colon + 1)) || undefined : undefined
  }
  const nodes: RedisSeedNode[] = []
  for (const entry of rest.split(',').map((s) => s.trim())) {
    if (!entry) continue
    const match = HOST_PORT.exec(entry)
    const port = Number(match?.[2])
    if (!match || port < 1 || port > 65535) throw new TypeError('cluster seed nodes must be host:port, comma separated')
    nodes.push({ host: match[1].replace(/^\[|\]$/g, ''), port })
  }
  if (nodes.length === 0) throw new TypeError('names no cluster seed node (host:port)')
  return { kind: 'cluster', nodes, username, password, tls: scheme === 'rediss+cluster' }
}
