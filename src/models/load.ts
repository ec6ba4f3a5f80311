import { existsSync, readFileSync } from 'node:fs'
import { extname, resolve } from 'node:path'
import { importConfigModule } from './config-import.js'
import { demoConfig } from './demo-config.js'
import type { ModelRegistry } from './registry.js'
import { ConfigFileError, resolveConfig } from './validate.js'

export interface LoadedModels {
  readonly registry: ModelRegistry
  /** The file the models came from; undefined for the built-in demo. */
  readonly source: string | undefined
}

const DEFAULT_FILES = ['changegate.config.ts', 'changegate.config.json']
const EXTENSIONS = new Set(['.ts', '.mts', '.mjs', '.js', '.json'])

/**
 * Finds and loads the configuration file (DESIGN §8): `file` (from CHANGEGATE_CONFIG) when given, else
 * `changegate.config.ts` then `.json` in `cwd`, else the built-in demo. Throws {@link ConfigFileError}.
 */
export async function loadModels(file: string | undefined, cwd: string = process.cwd()): Promise<LoadedModels> {
  const path = file !== undefined ? resolve(cwd, file) : DEFAULT_FILES.map((f) => resolve(cwd, f)).find((f) => existsSync(f))
  if (path === undefined) return { registry: resolveConfig(demoConfig), source: undefined }
  if (!existsSync(path)) throw new ConfigFileError(`CHANGEGATE_CONFIG: no file at ${path}`)
  const extension = extname(path)
  if (!EXTENSIONS.has(extension)) throw new ConfigFileError(`${path}: use a .ts, .mjs, .js or .json file`)
  return { registry: resolveConfig(await readConfigFile(path, extension)), source: path }
}

async function readConfigFile(path: string, extension: string): Promise<unknown> {
  if (extension === '.json') {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as unknown
    } catch (error) {
      throw new ConfigFileError(`${path}: not valid JSON (${summary(error)})`)
    }
  }
  let module: { default?: unknown }
  try {
    module = await importConfigModule(path)
  } catch (error) {
    if (error instanceof ConfigFileError) throw error
    throw new ConfigFileError(`${path}: could not be loaded (${summary(error)})`)
  }
  if (module.default === undefined) throw new ConfigFileError(`${path}: must export the configuration as default (export default defineConfig({...}))`)
  return module.default
}

/** The first line, and the next one when the first only announces it (a compiler's `Transform failed with 1 error:`). */
function summary(error: unknown): string {
  const [first, second] = (error instanceof Error ? error.message : String(error)).split('\n')
  return first.endsWith(':') && second ? `${first} ${second.trim()}` : first
}
