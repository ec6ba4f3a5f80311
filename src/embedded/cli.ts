/**
 * `npm run mongo:embedded -- --port P [--host H] [--oplog-max-entries N] [--replica-set NAME]`
 * Runs the embedded server as its own process; prints its URI once it accepts connections.
 */
import { startEmbeddedMongo, type EmbeddedMongoOptions } from './server.js'

const USAGE = 'usage: mongo:embedded [--port P] [--host H] [--oplog-max-entries N] [--replica-set NAME]'

class UsageError extends Error {}

function integer(flag: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || !/^\d+$/.test(value)) throw new UsageError(`${flag} needs an integer, got ${value === undefined ? 'nothing' : `'${value}'`}`)
  const n = Number(value)
  if (n < min || n > max) throw new UsageError(`${flag} must be between ${min} and ${max}, got ${n}`)
  return n
}

export function parseArgs(argv: readonly string[]): EmbeddedMongoOptions | 'help' {
  const options: EmbeddedMongoOptions = { port: 27017 }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined
    const value = () => inline ?? argv[++i]
    switch (flag) {
      case '--help':
      case '-h':
        return 'help'
      case '--port':
        options.port = integer('--port', value(), 0, 65535)
        break
      case '--host': {
        const host = value()
        if (!host) throw new UsageError('--host needs a host name or address')
        options.host = host
        break
      }
      case '--oplog-max-entries':
        options.oplogMaxEntries = integer('--oplog-max-entries', value(), 1, 100_000_000)
        break
      case '--replica-set': {
        const name = value()
        if (!name) throw new UsageError('--replica-set needs a name')
        options.setName = name
        break
      }
      default:
        throw new UsageError(`unknown argument '${arg}'`)
    }
  }
  return options
}

async function main(argv: readonly string[]): Promise<void> {
  let options: EmbeddedMongoOptions | 'help'
  try {
    options = parseArgs(argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`mongo:embedded: ${error.message} (${USAGE})\n`)
    process.exit(2)
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  let server: Awaited<ReturnType<typeof startEmbeddedMongo>> | undefined
  let stopping = false
  const shutdown = () => {
    if (stopping) return
    stopping = true
    // A signal during start-up has nothing to clean up yet.
    if (!server) process.exit(0)
    void server.stop().then(() => process.exit(0))
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
  try {
    server = await startEmbeddedMongo(options)
  } catch (error) {
    process.stderr.write(`mongo:embedded: cannot listen: ${(error as Error).message}\n`)
    process.exit(1)
  }
  process.stdout.write(`embedded MongoDB listening at ${server.uri}\n`)
}

void main(process.argv.slice(2))
