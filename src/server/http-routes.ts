import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'

export type Readiness = () => Promise<{ ready: boolean; checks: Record<string, boolean | string> }>

export function sendJSON(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(payload)
}

export interface OperationalRoutes {
  /** Answers `/healthz`, `/readyz` and `/metrics`; false when the path is none of them. */
  handle(path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean>
}

/** The process endpoints next to `/graphql`. None of them needs a token. */
export function createOperationalRoutes(opts: { readiness: Readiness; metrics: Metrics; logger: Logger }): OperationalRoutes {
  const routes = new Map<string, (res: ServerResponse) => Promise<void>>(Object.entries({
    '/healthz': async (res) => sendJSON(res, 200, { status: 'ok' }),
    '/readyz': async (res) => {
      const { ready, checks } = await opts.readiness().catch((err: unknown) => {
        opts.logger.warn({ err }, 'readiness check failed')
        return { ready: false, checks: { readiness: 'check failed' } as Record<string, boolean | string> }
      })
      sendJSON(res, ready ? 200 : 503, { ready, checks })
    },
    '/metrics': async (res) => {
      const text = await opts.metrics.registry.metrics()
      res.writeHead(200, { 'content-type': opts.metrics.contentType, 'cache-control': 'no-store' })
      res.end(text)
    },
  }))
  return {
    async handle(path, req, res) {
      const route = routes.get(path)
      if (!route) return false
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendJSON(res, 405, { error: 'Method not allowed' }, { allow: 'GET, HEAD' })
        return true
      }
      await route(res)
      return true
    },
  }
}
