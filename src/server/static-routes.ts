import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ConsoleChartSpec } from './console/chart-spec.js'
import { CONSOLE_CSS, renderConsolePage } from './console/page.js'
import { GRAPHQL_WS_PATH } from './console/paths.js'
import { CONSOLE_SCRIPT } from './console/script.js'


export interface StaticRoutesOptions {
  /** Serve `/console`. */
  console: boolean
  /** Serve `examples/web-client/` at `/examples/web-client/` (dev mode, from a checkout of the repository). */
  examples: boolean
  /** Admin token the console's token box starts with (dev mode only). */
  devToken?: string
  /** The console's live tail and explain panel open on this subscription (default: the demo's). */
  exampleSubscription?: string
  /** The console's live chart; absent: the page finds it by introspection (refused in production). */
  chart?: ConsoleChartSpec
}

export interface StaticRoutes {
  /** Answers the browser pages and their assets; false when the path is none of them. */
  handle(path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean>
}

type Asset = { type: string; body: () => Promise<string | Buffer> }

const TYPES = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' } as const

// Same-origin only: scripts, styles and connections (fetch, WebSocket) to the gateway itself.
const CSP = "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/**
 * The console and the example web client, with every asset from the package's own files (graphql-ws's browser
 * build from node_modules): nothing is fetched from another host.
 */
export function createStaticRoutes(opts: StaticRoutesOptions): StaticRoutes {
  const assets = new Map<string, Asset>()
  const once = (load: () => Promise<string | Buffer>) => {
    let loaded: Promise<string | Buffer> | undefined
    return () => (loaded ??= load())
  }
  if (opts.console || opts.examples) {
    const umd = join(dirname(createRequire(import.meta.url).resolve('graphql-ws')), '..', 'umd', 'graphql-ws.min.js')
    assets.set(GRAPHQL_WS_PATH, { type: TYPES.js, body: once(() => readFile(umd)) })
  }
  if (opts.console) {
    const page = renderConsolePage(opts.devToken, opts.exampleSubscription, opts.chart)
    assets.set('/console', { type: TYPES.html, body: async () => page })
    assets.set('/console/console.js', { type: TYPES.js, body: async () => CONSOLE_SCRIPT })
    assets.set('/console/console.css', { type: TYPES.css, body: async () => CONSOLE_CSS })
  }
  const examples = join(packageRoot(), 'examples', 'web-client')
  if (opts.examples && existsSync(examples)) {
    const html = { type: TYPES.html, body: once(() => readFile(join(examples, 'index.html'))) }
    assets.set('/examples/web-client/', html)
    assets.set('/examples/web-client/index.html', html)
    assets.set('/examples/web-client/client.js', { type: TYPES.js, body: once(() => readFile(join(examples, 'client.js'))) })
  }
  return {
    async handle(path, req, res) {
      const asset = assets.get(path)
      if (!asset) return false
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end()
        return true
      }
      const body = await asset.body()
      res.writeHead(200, {
        'content-type': asset.type,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        'content-security-policy': CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      })
      res.end(req.method === 'HEAD' ? undefined : body)
      return true
    },
  }
}

/** The directory holding changegate's package.json (works from src/ under tsx and from dist/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}
