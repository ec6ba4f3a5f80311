import { ConfigError, loadConfig } from './config/index.js'
import { createApp, type App } from './app.js'
import { ConfigFileError, loadModels } from './models/index.js'

/** Process entry: config → app → start; SIGINT/SIGTERM → graceful stop. */
async function main() {
  let app: App
  try {
    const config = loadConfig()
    const loaded = await loadModels(config.configFile)
    app = createApp(config, { models: loaded.source === undefined ? undefined : loaded.registry })
  } catch (error) {
    if (error instanceof ConfigError || error instanceof ConfigFileError) {
      process.stderr.write(`changegate: invalid configuration: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    app.logger.info({ signal }, 'stopping')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    app.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  try {
    const started = await app.start()
    process.stdout.write(`${started.banner.join('\n')}\n`)
  } catch (error) {
    app.logger.fatal({ err: error }, 'failed to start')
    process.stderr.write(`changegate: failed to start: ${error instanceof Error ? error.message : String(error)}\n`)
    await app.stop().catch(() => undefined)
    process.exit(1)
  }
}

void main()
