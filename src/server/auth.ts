import { jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose'
import { unauthenticated } from '../errors.js'
import type { AuthSpec } from '../models/types.js'
import type { Logger } from '../observability/logger.js'
import { createClaimsReader, DEFAULT_CLAIMS, type ClaimNames } from './auth/claims.js'
import { createHs256Signer, type SignClaims } from './auth/hs256.js'
import { createJwksKeys } from './auth/jwks.js'

export { MAX_TENANT_LENGTH } from './auth/claims.js'

/** Who is calling, from a verified bearer token (DESIGN §4). Every pipeline, query and cursor is bound to `tenant`. */
export interface AuthContext {
  readonly sub: string
  readonly tenant: string
  /** From the `scope` claim (space-separated string or array of strings); `admin` unlocks operational queries. */
  readonly scopes: ReadonlySet<string>
  /** Seconds since the epoch; the socket closes when it passes. */
  readonly exp: number | undefined
}

export interface Authenticator {
  /** `hs256`: tokens signed with the shared secret. `jwks`: tokens signed by the identity provider's keys. */
  readonly mode: 'hs256' | 'jwks'
  /**
   * Verifies an `Authorization` value (`Bearer <jwt>`, scheme case-insensitive). Throws UNAUTHENTICATED, with
   * the same message whatever the reason: missing, malformed, forged, expired, another algorithm, bad claims,
   * unknown key, identity provider unreachable. The reason goes to the debug log only.
   */
  authenticate(authorization: string | null | undefined): Promise<AuthContext>
  /**
   * Issues an HS256 token this authenticator accepts (dev tokens, tests). `ttlSeconds` defaults to one hour.
   * Throws a TypeError in `jwks` mode: tokens come from the identity provider there.
   */
  sign(claims: SignClaims, ttlSeconds?: number): Promise<string>
}

export interface AuthenticatorOptions {
  /** HS256 secret (`CHANGEGATE_JWT_SECRET`). Required without `auth.jwksUrl`; never used with it. */
  readonly secret?: string
  /** The configuration file's `auth` section: JWKS URL, expected issuer and audience, claim names or paths. */
  readonly auth?: AuthSpec
  /** A JWKS request taking longer fails, and so does the token waiting for it. Default 5000. */
  readonly jwksTimeoutMs?: number
  /** After a successful JWKS fetch, a token with an unknown `kid` causes no new fetch for this long. Default 30000. */
  readonly jwksCooldownMs?: number
  /** Cached keys older than this are refreshed in the background (kept while the refresh fails). Default 600000. */
  readonly jwksMaxAgeMs?: number
  /** After a failed JWKS fetch, no new fetch for this long; tokens needing one are refused at once. Default 1000. */
  readonly jwksRetryMs?: number
  /** Refusal reasons at debug level, JWKS fetch failures at warn. Never the token. */
  readonly logger?: Pick<Logger, 'debug' | 'warn'>
}

/** Asymmetric algorithms accepted from a JWKS. HS* and `none` never are, whatever the token's header says. */
const JWKS_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']

const LOOPBACK: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]'])
const MAX_AUTHORIZATION_LENGTH = 8192
const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const spec = options.auth ?? {}
  const names: ClaimNames = { ...DEFAULT_CLAIMS, ...definedOnly(spec.claims ?? {}) }
  for (const [claim, path] of Object.entries(names)) {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError(`auth.claims.${claim} must be a non-empty string`)
  }
  const readClaims = createClaimsReader(names)
  const audience = spec.audience === undefined || typeof spec.audience === 'string' ? spec.audience : [...spec.audience]
  const checks: JWTVerifyOptions = { issuer: spec.issuer, audience }
  const logger = options.logger

  const { mode, verify, sign } =
    spec.jwksUrl !== undefined ? createJwksVerifier(spec.jwksUrl, checks, options) : createHs256Verifier(names, checks, options)

  const refuse = (reason: string, detail?: string): never => {
    logger?.debug({ reason, ...(detail ? { detail } : {}) }, 'bearer token refused')
    throw unauthenticated()
  }

  return {
    mode,
    sign,
    async authenticate(authorization) {
      if (typeof authorization !== 'string' || authorization.length === 0) return refuse('no authorization')
      if (authorization.length > MAX_AUTHORIZATION_LENGTH) return refuse('authorization too long')
      const token = BEARER.exec(authorization.trim())?.[1]
      if (!token) return refuse('not a bearer JWT')
      let payload: JWTPayload
      try {
        payload = await verify(token)
      } catch (error) {
        return refuse(reasonOf(error), error instanceof Error ? error.message : undefined)
      }
      const claims = readClaims(payload)
      if (!claims.ok) return refuse('claims', claims.reason)
      return { sub: claims.sub, tenant: claims.tenant, scopes: claims.scopes, exp: claims.exp }
    },
  }
}

/** How tokens are verified (and issued) in one mode; identity is read from the payload afterwards. */
interface Verifier {
  readonly mode: Authenticator['mode']
  verify(token: string): Promise<JWTPayload>
  readonly sign: Authenticator['sign']
}

function createJwksVerifier(jwksUrl: string, checks: JWTVerifyOptions, options: AuthenticatorOptions): Verifier {
  const url = jwksUrlOf(jwksUrl)
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
    options.logger?.warn({ jwksUrl: url.href }, 'auth.jwksUrl is plain http: keys fetched over it can be replaced in transit')
  }
  const keys = createJwksKeys({
    url,
    timeoutMs: duration(options.jwksTimeoutMs, 5000, 'jwksTimeoutMs'),
    cooldownMs: duration(options.jwksCooldownMs, 30_000, 'jwksCooldownMs'),
    maxAgeMs: duration(options.jwksMaxAgeMs, 600_000, 'jwksMaxAgeMs'),
    retryMs: duration(options.jwksRetryMs, 1000, 'jwksRetryMs'),
    logger: options.logger,
  })
  const jwksChecks: JWTVerifyOptions = { ...checks, algorithms: [...JWKS_ALGORITHMS], requiredClaims: ['exp'] }
  return {
    mode: 'jwks',
    verify: async (token) => (await jwtVerify(token, keys, jwksChecks)).payload,
    sign: async () => {
      throw new TypeError('sign() is not available with auth.jwksUrl: tokens are issued by the identity provider')
    },
  }
}

function createHs256Verifier(names: ClaimNames, checks: JWTVerifyOptions, options: AuthenticatorOptions): Verifier {
  if (typeof options.secret !== 'string' || options.secret.length === 0) throw new TypeError('JWT secret must be a non-empty string')
  const key = new TextEncoder().encode(options.secret)
  const hsChecks: JWTVerifyOptions = { ...checks, algorithms: ['HS256'] }
  const { issuer, audience } = options.auth ?? {}
  return {
    mode: 'hs256',
    verify: async (token) => (await jwtVerify(token, key, hsChecks)).payload,
    sign: createHs256Signer({ key, claims: names, issuer, audience }),
  }
}

function definedOnly(claims: NonNullable<AuthSpec['claims']>): Partial<ClaimNames> {
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined))
}

function jwksUrlOf(value: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new TypeError(`auth.jwksUrl is not a URL: ${value}`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`auth.jwksUrl must be http(s): ${value}`)
  return url
}

function duration(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`${name} must be a non-negative integer`)
  return value
}

/** jose's stable error code (`ERR_JWT_EXPIRED`, `ERR_JWKS_NO_MATCHING_KEY`, …), else the error's name. */
function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code
    return typeof code === 'string' ? code : error.name
  }
  return 'unknown'
}
