import type { GraphiQLOptions } from 'graphql-yoga'
import { CSRF_HEADERS } from './csrf.js'

/** What a fresh GraphiQL opens on: the README's subscription, ready to run. */
export const GRAPHIQL_START_QUERY = `# Run this subscription (▶), then watch order changes arrive on the right.
# The admin token is in the Headers tab below (dev mode only).
subscription {
  orderChanged(filter: { status: [SHIPPED, DELIVERED] }) {
    cursor operationType transition documentId
    order { status totalAmount customer { email } }
    updatedFields { path value }
  }
}
`

/**
 * GraphiQL's options in dev mode. `additionalHeaders` is sent with every request GraphiQL makes (queries,
 * introspection and SSE subscriptions), whatever the headers editor holds: the CSRF header a cross-site form
 * cannot send (see SECURITY.md).
 */
export function graphiqlOptions(headers: Record<string, string> = {}): GraphiQLOptions {
  return {
    title: 'changegate',
    // SSE carries the headers editor's Authorization as a real HTTP header.
    subscriptionsProtocol: 'SSE',
    headers: JSON.stringify(headers, null, 2),
    shouldPersistHeaders: false,
    additionalHeaders: { [CSRF_HEADERS[0]]: 'graphiql' },
  }
}

/**
 * GraphiQL keeps its editor's text in the page URL (`?query=`) and otherwise opens on a generic welcome text, so
 * a visit without `?query=` is sent to one that holds {@link GRAPHIQL_START_QUERY}. Later edits stay in the URL,
 * so a reload keeps them.
 */
export function graphiqlStartLocation(path: string, requestUrl: string | undefined, startQuery = GRAPHIQL_START_QUERY): string | undefined {
  const search = new URL(requestUrl ?? '/', 'http://localhost').searchParams
  if (search.has('query')) return undefined
  search.set('query', startQuery)
  return `${path}?${search.toString()}`
}

/**
 * Renders GraphiQL with every asset inline (scripts, styles, editor workers, favicon) from
 * `@graphql-yoga/render-graphiql`, so the page loads without reaching any other host. The page is ~9 MB of
 * text, so it is rendered once per distinct set of options.
 *
 * That module holds its assets as source text (about 30 MB of heap once loaded), so it is loaded at the first page
 * asked for, not with the server: a node that never serves GraphiQL (production, or nobody opens it) never holds it.
 */
export function createOfflineGraphiQLRenderer(): (options: GraphiQLOptions) => Promise<string> {
  const pages = new Map<string, Promise<string>>()
  return (options) => {
    const key = JSON.stringify(options)
    let page = pages.get(key)
    if (page === undefined) {
      page = import('@graphql-yoga/render-graphiql').then(({ renderGraphiQL }) => renderGraphiQL(options))
      // A failed load is not cached: the next request tries again.
      page.catch(() => pages.delete(key))
      pages.set(key, page)
    }
    return page
  }
}
