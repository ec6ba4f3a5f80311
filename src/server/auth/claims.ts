import type { JWTPayload } from 'jose'

/** Where the caller's identity is read in a verified token: claim names or dotted paths. */
export interface ClaimNames {
  readonly sub: string
  readonly tenant: string
  readonly scope: string
}

export const DEFAULT_CLAIMS: ClaimNames = { sub: 'sub', tenant: 'tenant', scope: 'scope' }

export const MAX_TENANT_LENGTH = 128
const MAX_SUB_LENGTH = 256

/** The identity a verified token carries, or why it carries none (for the debug log, never for the client). */
export type ClaimsResult =
  | {
      readonly ok: true
      readonly sub: string
      readonly tenant: string
      readonly scopes: ReadonlySet<string>
      readonly exp: number | undefined
    }
  | { readonly ok: false; readonly reason: string }

export const isValidSub = (sub: unknown): sub is string => typeof sub === 'string' && sub.length > 0 && sub.length <= MAX_SUB_LENGTH
export const isValidTenant = (tenant: unknown): tenant is string =>
  typeof tenant === 'string' && tenant.length > 0 && tenant.length <= MAX_TENANT_LENGTH

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Reads a claim by name or dotted path. The exact name wins (`https://example.com/org` is one claim whose name
 * holds dots); otherwise the path is split at dots, trying the longest claim name that exists at each level, so
 * `https://example.com/app.org` reads `org` inside the claim `https://example.com/app`. Only own properties of
 * plain objects are followed; arrays are never entered.
 */
export function readClaim(payload: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path]
  for (let dot = path.lastIndexOf('.'); dot > 0; dot = path.lastIndexOf('.', dot - 1)) {
    const head = path.slice(0, dot)
    if (!Object.hasOwn(payload, head)) continue
    const inner = payload[head]
    if (!isRecord(inner)) continue
    const value = readClaim(inner, path.slice(dot + 1))
    if (value !== undefined) return value
  }
  return undefined
}

/** `scope` as a space-separated string or an array of strings; absent = no scopes. */
function scopesOf(scope: unknown): ReadonlySet<string> | undefined {
  if (scope === undefined) return internScopes([])
  if (typeof scope === 'string') return internScopes(scope.split(/\s+/).filter(Boolean))
  if (Array.isArray(scope) && scope.every((s): s is string => typeof s === 'string')) return internScopes(scope.filter(Boolean))
  return undefined
}

/**
 * Equal scope lists share one (read-only) set. A connection keeps its caller's scopes for as long as it is open, a
 * set costs about 250 bytes of heap even when empty, and the tokens of a deployment carry a few distinct lists.
 * Bounded: past {@link MAX_INTERNED_SCOPES} lists the cache starts again (sets already handed out stay valid).
 */
const interned = new Map<string, ReadonlySet<string>>()
const MAX_INTERNED_SCOPES = 1024

function internScopes(list: readonly string[]): ReadonlySet<string> {
  const key = JSON.stringify(list)
  let set = interned.get(key)
  if (set === undefined) {
    if (interned.size >= MAX_INTERNED_SCOPES) interned.clear()
    interned.set(key, (set = new Set(list)))
  }
  return set
}

/** Builds the reader that turns a verified payload into the caller's identity. */
export function createClaimsReader(names: ClaimNames): (payload: JWTPayload) => ClaimsResult {
  return (payload) => {
    const sub = readClaim(payload, names.sub)
    if (!isValidSub(sub)) return { ok: false, reason: `claim ${names.sub} missing or not a string of 1-${MAX_SUB_LENGTH} characters` }
    const tenant = readClaim(payload, names.tenant)
    if (!isValidTenant(tenant)) {
      return { ok: false, reason: `claim ${names.tenant} missing or not a string of 1-${MAX_TENANT_LENGTH} characters` }
    }
    const scopes = scopesOf(readClaim(payload, names.scope))
    if (!scopes) return { ok: false, reason: `claim ${names.scope} is neither a string nor an array of strings` }
    const { exp } = payload
    if (exp !== undefined && typeof exp !== 'number') return { ok: false, reason: 'claim exp is not a number' }
    return { ok: true, sub, tenant, scopes, exp }
  }
}
