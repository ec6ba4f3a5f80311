/**
 * Imports a configuration module however the gateway runs: compiled (`npm start`, `node dist/main.js`, the Docker
 * image) or through tsx. A `.ts` or `.mts` file is compiled by tsx's loader, registered for the configuration's own
 * imports only, and is an ES module (`import`/`export`) wherever it lies, even outside any package. In every
 * configuration module, `import ... from 'changegate'` is this gateway's own public entry (`src/index.ts`): the file
 * needs no copy of the package beside it.
 */
import { randomUUID } from 'node:crypto'
import { register } from 'node:module'
import { pathToFileURL } from 'node:url'
import * as publicApi from '../index.js'
import { ConfigFileError } from './validate.js'

/** The loader tsx's `register({ namespace })` returns: imports through it are compiled as TypeScript. */
interface ScopedLoader {
  import(specifier: string, parentURL: string): Promise<unknown>
}

const TYPESCRIPT = /\.m?ts$/
const API_GLOBAL = 'changegate.public-api'

/**
 * Resolution hooks; they run on Node's loader thread, hence a text. `changegate` is the module `data.api`; a `.ts`
 * file named by path from within the namespace (the configuration and what it imports) is an ES module, whatever the
 * `type` of the package around it (tsx would make it CommonJS outside a `"type": "module"` package, where `changegate`
 * is out of these hooks' reach). tsx 4 marks the URLs of a namespace's modules with `tsx-namespace=<id>`.
 */
const HOOKS = `
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
let api, marker
export function initialize(data) {
  api = data.api
  marker = 'tsx-namespace=' + data.namespace
}
export async function resolve(specifier, context, next) {
  if (specifier === 'changegate') return { url: api, format: 'module', shortCircuit: true }
  if (context.parentURL?.includes(marker) && /\\.m?ts$/.test(specifier) && /^(\\.{0,2}\\/|file:)/.test(specifier)) {
    const url = new URL(specifier, context.parentURL)
    url.search = ''
    if (existsSync(fileURLToPath(url))) return { url: url.href, format: 'module', shortCircuit: true }
  }
  return next(specifier, context)
}
`

let namespace: string | undefined
let typescript: Promise<ScopedLoader | undefined> | undefined

/**
 * The module namespace of the configuration file at `path` (absolute). Throws {@link ConfigFileError} for a `.ts` file
 * when tsx is not installed, and whatever importing the module throws.
 */
export async function importConfigModule(path: string): Promise<{ default?: unknown }> {
  const url = pathToFileURL(path).href
  const scope = useHooks()
  if (!TYPESCRIPT.test(path)) return (await import(url)) as { default?: unknown }
  // Registered after ours, tsx's hooks run first and pass on what they do not resolve themselves.
  const loader = await (typescript ??= import('tsx/esm/api').then((tsx) => tsx.register({ namespace: scope }), () => undefined))
  if (!loader) {
    throw new ConfigFileError(`${path}: a .ts configuration is compiled by tsx, which is not installed; install changegate's dependencies (tsx is one) or use a .mjs, .js or .json file`)
  }
  // A parent marked as inside the namespace makes the configuration itself the namespace's, as its imports are.
  return (await loader.import(url, `${import.meta.url}?tsx-namespace=${scope}`)) as { default?: unknown }
}

function useHooks(): string {
  if (namespace === undefined) {
    namespace = randomUUID()
    ;(globalThis as Record<string, unknown>)[API_GLOBAL] = publicApi
    register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, { data: { api: apiModuleUrl(), namespace } })
  }
  return namespace
}

/** A module re-exporting this process's public entry: its values, that is (types are the editor's business). */
function apiModuleUrl(): string {
  const lines = [`const api = globalThis[${JSON.stringify(API_GLOBAL)}]`, ...Object.keys(publicApi).map((name) => `export const ${name} = api.${name}`)]
  return `data:text/javascript,${encodeURIComponent(lines.join('\n'))}`
}
