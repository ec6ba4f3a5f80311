import { ConfigError, loadConfig } from './config/index.js'
import { createApp } from './app.js'

/** Process entry: config → app → start; SIGINT/SIGTERM → graceful stop. */
async function main() {
  let config
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`changegate: invalid configuration: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
  const app = createApp(config)
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
