import { createGraphQLError, type Plugin } from 'graphql-yoga'
import { ErrorCode } from '../errors.js'

/** Content types a browser may send cross-site without a CORS preflight. */
const NON_PREFLIGHTED_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'])

export const CSRF_HEADERS = ['x-graphql-yoga-csrf'] as const

/**
 * CSRF prevention (as graphql-yoga's and Apollo's plugins do it): only requests that a browser would have
 * preflighted reach execution. A request qualifies when it has a `Content-Type` other than the three "simple"
 * ones (so every JSON POST does), or a non-empty header from `requestHeaders`. A plain cross-site GET or form
 * POST is refused with 403 before anything runs.
 */
export function useCsrfPrevention(requestHeaders: readonly string[] = CSRF_HEADERS): Plugin {
  return {
    onRequestParse({ request }) {
      if (isPreflighted(request, requestHeaders)) return
      throw createGraphQLError(
        `Request blocked as a potential cross-site request forgery: send a Content-Type such as application/json, or a ${requestHeaders.join(' or ')} header`,
        { extensions: { code: ErrorCode.FORBIDDEN, http: { status: 403 } } },
      )
    },
  }
}

function isPreflighted(request: Request, requestHeaders: readonly string[]): boolean {
  const contentType = request.headers.get('content-type')
  if (contentType !== null) {
    const essence = contentType.split(';')[0].trim().toLowerCase()
    if (essence && !NON_PREFLIGHTED_CONTENT_TYPES.has(essence)) return true
  }
  return requestHeaders.some((name) => !!request.headers.get(name))
}
