import type { IncomingMessage } from 'node:http'

/** `CHANGEGATE_ALLOWED_ORIGINS`: a list of origins, or only the page's own host. */
export type AllowedOrigins = readonly string[] | 'same-origin'

/**
 * Decides whether a WebSocket upgrade may proceed, from its `Origin` header.
 *
 * - No `Origin` header: allowed (non-browser clients; browsers always send one on WebSocket handshakes).
 * - `'same-origin'`: the origin's host (with port) must equal the request's `Host` header.
 * - A list: the origin (scheme, host and port, normalized) must be in it.
 */
export function isOriginAllowed(request: IncomingMessage, allowed: AllowedOrigins): boolean {
  const origin = request.headers.origin
  if (origin === undefined) return true
  let parsed: URL
  try {
    parsed = new URL(origin)
  } catch {
    return false
  }
  if (parsed.origin === 'null') return false
  if (allowed === 'same-origin') {
    const host = request.headers.host
    return host !== undefined && parsed.host.toLowerCase() === normalizeHost(host, parsed.protocol)
  }
  return allowed.includes(parsed.origin)
}

/** `Host` as URL#host renders it: lower case, default port dropped. */
function normalizeHost(host: string, protocol: string): string {
  try {
    return new URL(`${protocol}//${host}`).host.toLowerCase()
  } catch {
    return host.toLowerCase()
  }
}
