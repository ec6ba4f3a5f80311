import {
  createRemoteJWKSet,
  customFetch,
  jwksCache,
  type ExportedJWKSCache,
  type FetchImplementation,
  type JWSHeaderParameters,
  type FlattenedJWSInput,
  type CryptoKey,
} from 'jose'
import type { Logger } from '../../observability/logger.js'

export interface JwksKeysOptions {
  readonly url: URL
  /** A JWKS request that takes longer fails (and the token is refused). */
  readonly timeoutMs: number
  /** After a successful fetch, an unknown `kid` triggers no new fetch for this long. */
  readonly cooldownMs: number
  /** Keys older than this are refreshed in the background; until a refresh succeeds the cached keys stay in use. */
  readonly maxAgeMs: number
  /** After a failed fetch, no new fetch for this long: tokens needing one are refused at once. */
  readonly retryMs: number
  readonly logger?: Pick<Logger, 'warn'>
}

/** Resolves the verification key of a token from the identity provider's JWKS. */
export type JwksKeys = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>

/** Thrown without touching the network while the last fetch failed less than `retryMs` ago. */
class JwksBackoff extends Error {
  readonly code = 'ERR_JWKS_BACKOFF'
}

/**
 * jose's remote key set, with two things added so a down or slow identity provider never blocks callers whose
 * keys are already cached and is never hammered: keys do not expire while the provider cannot be reached
 * (stale keys are refreshed in the background, never on a caller's path), and a failed fetch holds further
 * fetches off for `retryMs`.
 */
export function createJwksKeys(options: JwksKeysOptions): JwksKeys {
  const { url, logger } = options
  const cache: Partial<ExportedJWKSCache> = {}
  let failedAt = Number.NEGATIVE_INFINITY

  const fetchKeys: FetchImplementation = async (href, init) => {
    if (Date.now() - failedAt < options.retryMs) throw new JwksBackoff('JWKS fetch held off after a failure')
    try {
      const response = await fetch(href, init)
      if (response.status !== 200) throw new Error(`JWKS endpoint answered HTTP ${response.status}`)
      const body = await response.text()
      if (!isKeySet(JSON.parse(body))) throw new Error('JWKS response has no "keys" array')
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } })
    } catch (error) {
      failedAt = Date.now()
      logger?.warn({ jwksUrl: url.href, err: describeFailure(error), keysCached: cache.uat !== undefined }, 'JWKS fetch failed')
      throw error
    }
  }

  const remote = createRemoteJWKSet(url, {
    timeoutDuration: options.timeoutMs,
    cooldownDuration: options.cooldownMs,
    // Staleness is handled below, off the caller's path; jose would otherwise wait for (and fail with) the refetch.
    cacheMaxAge: Number.POSITIVE_INFINITY,
    [customFetch]: fetchKeys,
    // jose records each applied key set here (`uat`: when); nothing else writes it.
    [jwksCache]: cache as ExportedJWKSCache,
  })

  return (header, token) => {
    if (cache.uat !== undefined && Date.now() - cache.uat > options.maxAgeMs && !remote.reloading) {
      remote.reload().catch(() => undefined)
    }
    return remote(header, token)
  }
}

const isKeySet = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && Array.isArray((value as { keys?: unknown }).keys)

/** A short, token-free description of a fetch failure for the log. */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const cause = error.cause instanceof Error ? `: ${(error.cause as Error & { code?: string }).code ?? error.cause.message}` : ''
  return `${error.name}: ${error.message}${cause}`
}
