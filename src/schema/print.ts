import { writeFileSync } from 'node:fs'
import { printSchema } from 'graphql'
import { ConfigError, loadConfig } from '../config/index.js'
import { ConfigFileError, demoConfig, loadModels, resolveConfig, type ModelRegistry } from '../models/index.js'
import { buildSchema } from './index.js'

/** The SDL of a configuration (default: the built-in demo, whose schema is committed as schema/schema.graphql). */
export const printedSchema = (models: ModelRegistry = resolveConfig(demoConfig)) => `${printSchema(buildSchema(models))}\n`

/**
 * `npm run schema:print [-- --out FILE]`: prints the schema of the active configuration (CHANGEGATE_CONFIG, else
 * ./changegate.config.ts or .json, else the demo) to stdout, or writes it to FILE.
 */
async function main(argv: string[]) {
  const outAt = argv.indexOf('--out')
  const out = outAt >= 0 ? argv[outAt + 1] : undefined
  try {
    const { registry } = await loadModels(loadConfig().configFile)
    const sdl = printedSchema(registry)
    if (out) writeFileSync(out, sdl)
    else process.stdout.write(sdl)
  } catch (error) {
    if (error instanceof ConfigFileError || error instanceof ConfigError) {
      process.stderr.write(`changegate: invalid configuration: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void main(process.argv.slice(2))
