import { jwtVerify, SignJWT, type JWTPayload } from 'jose'
import { unauthenticated } from '../errors.js'

/** Who is calling, from a verified bearer token (DESIGN §4). Every pipeline, query and cursor is bound to `tenant`. */
export interface AuthContext {
  readonly sub: string
  readonly tenant: string
  /** From the space-separated `scope` claim; `admin` unlocks operational queries. */
  readonly scopes: ReadonlySet<string>
  /** Seconds since the epoch; the socket closes when it passes. */
  readonly exp: number | undefined
}

export interface Authenticator {
  /**
   * Verifies an `Authorization` value (`Bearer <jwt>`, scheme case-insensitive). Throws UNAUTHENTICATED, with
   * the same message whatever the reason: missing, malformed, forged, expired, another algorithm, bad claims.
   */
  authenticate(authorization: string | null | undefined): Promise<AuthContext>
  /** Issues an HS256 token (dev tokens, tests). `ttlSeconds` defaults to one hour. */
  sign(claims: { sub: string; tenant: string; scope?: string }, ttlSeconds?: number): Promise<string>
}

export const MAX_TENANT_LENGTH = 128
const MAX_SUB_LENGTH = 256
const MAX_AUTHORIZATION_LENGTH = 8192
const DEFAULT_TTL_SECONDS = 3600
const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i

export function createAuthenticator(secret: string): Authenticator {
  if (typeof secret !== 'string' || secret.length === 0) throw new TypeError('JWT secret must be a non-empty string')
  const key = new TextEncoder().encode(secret)

  return {
    async authenticate(authorization) {
      if (typeof authorization !== 'string' || authorization.length > MAX_AUTHORIZATION_LENGTH) throw unauthenticated()
      const token = BEARER.exec(authorization.trim())?.[1]
      if (!token) throw unauthenticated()
      let payload: JWTPayload
      try {
        ;({ payload } = await jwtVerify(token, key, { algorithms: ['HS256'] }))
      } catch {
        throw unauthenticated()
      }
      const context = contextOf(payload)
      if (!context) throw unauthenticated()
      return context
    },

    async sign(claims, ttlSeconds = DEFAULT_TTL_SECONDS) {
      if (!validSub(claims.sub) || !validTenant(claims.tenant)) throw new TypeError('sub and tenant must be non-empty strings')
      if (claims.scope !== undefined && typeof claims.scope !== 'string') throw new TypeError('scope must be a string')
      if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new TypeError('ttlSeconds must be a positive number')
      const now = Math.floor(Date.now() / 1000)
      const body: JWTPayload = { tenant: claims.tenant }
      if (claims.scope !== undefined) body.scope = claims.scope
      return new SignJWT(body)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(claims.sub)
        .setIssuedAt(now)
        .setExpirationTime(now + Math.ceil(ttlSeconds))
        .sign(key)
    },
  }
}

const validSub = (sub: unknown): sub is string => typeof sub === 'string' && sub.length > 0 && sub.length <= MAX_SUB_LENGTH
const validTenant = (tenant: unknown): tenant is string =>
  typeof tenant === 'string' && tenant.length > 0 && tenant.length <= MAX_TENANT_LENGTH

function contextOf(payload: JWTPayload): AuthContext | undefined {
  const { sub, tenant, scope, exp } = payload
  if (!validSub(sub) || !validTenant(tenant)) return undefined
  if (scope !== undefined && typeof scope !== 'string') return undefined
  if (exp !== undefined && typeof exp !== 'number') return undefined
  const scopes = new Set(typeof scope === 'string' ? scope.split(/\s+/).filter(Boolean) : [])
  return { sub, tenant, scopes, exp }
}
