import { SignJWT, type JWTPayload } from 'jose'
import { isValidSub, isValidTenant, type ClaimNames } from './claims.js'

const DEFAULT_TTL_SECONDS = 3600

export interface SignClaims {
  readonly sub: string
  readonly tenant: string
  readonly scope?: string
}

export interface Hs256SignerOptions {
  readonly key: Uint8Array
  readonly claims: ClaimNames
  readonly issuer?: string
  readonly audience?: string | readonly string[]
}

/**
 * Issues HS256 tokens the same authenticator accepts: identity under the configured claim names (a configured
 * dotted path is written as one claim of that exact name, which is read first), `iss`/`aud` when configured.
 */
export function createHs256Signer(options: Hs256SignerOptions) {
  const { key, claims: names } = options
  return async (claims: SignClaims, ttlSeconds = DEFAULT_TTL_SECONDS): Promise<string> => {
    if (!isValidSub(claims.sub) || !isValidTenant(claims.tenant)) throw new TypeError('sub and tenant must be non-empty strings')
    if (claims.scope !== undefined && typeof claims.scope !== 'string') throw new TypeError('scope must be a string')
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new TypeError('ttlSeconds must be a positive number')
    const now = Math.floor(Date.now() / 1000)
    const body: JWTPayload = { [names.tenant]: claims.tenant }
    if (names.sub !== 'sub') body[names.sub] = claims.sub
    if (claims.scope !== undefined) body[names.scope] = claims.scope
    const jwt = new SignJWT(body)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt(now)
      .setExpirationTime(now + Math.ceil(ttlSeconds))
    if (names.sub === 'sub') jwt.setSubject(claims.sub)
    if (options.issuer !== undefined) jwt.setIssuer(options.issuer)
    if (options.audience !== undefined) jwt.setAudience(typeof options.audience === 'string' ? options.audience : [...options.audience])
    return jwt.sign(key)
  }
}
