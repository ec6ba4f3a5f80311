/**
 * `npm run init -- --uri URI [--db NAME] [--out FILE] [--force]`
 * Writes a configuration file for the collections of a database and prints one line per model. JSON output
 * cannot hold comments, so its notes (skipped fields, models without a tenant field) go to stderr. Bad arguments
 * or an existing file: one line, exit 2; MongoDB unreachable: one line, exit 1.
 */
import { writeFileSync, existsSync } from 'node:fs'
import { extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { MongoClient } from 'mongodb'
import { OUTPUT_FORMATS, hasFields, renderJson, renderModule, summaryLine, tenantNote, type OutputFormat } from './emit.js'
import { inferModel, type InferredModel } from './infer-model.js'
import { uniqueModelNames } from './names.js'
import { readCollections } from './read-database.js'

const USAGE = 'usage: npm run init -- --uri URI [--db NAME] [--out FILE] [--force]'
const DEFAULT_DB = 'changegate'
const DEFAULT_OUT = 'changegate.config.ts'

class UsageError extends Error {}

export interface InitOptions {
  readonly uri: string
  readonly db: string
  readonly out: string
  readonly format: OutputFormat
  readonly force: boolean
}

/** The database named in the URI's path (`mongodb://host/shop?…` → `shop`), if any. */
export function databaseInUri(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/?]*\/([^?]+)/.exec(uri)
  return match ? decodeURIComponent(match[1]) : undefined
}

export function parseArgs(argv: readonly string[]): InitOptions | 'help' {
  let uri: string | undefined
  let db: string | undefined
  let out = DEFAULT_OUT
  let force = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined
    const value = (): string => {
      const next = inline ?? argv[++i]
      if (!next) throw new UsageError(`${flag} needs a value`)
      return next
    }
    switch (flag) {
      case '--help':
      case '-h':
        return 'help'
      case '--uri':
        uri = value()
        break
      case '--db':
        db = value()
        break
      case '--out':
        out = value()
        break
      case '--force':
        force = true
        break
      default:
        throw new UsageError(`unknown argument '${arg}'`)
    }
  }
  if (!uri) throw new UsageError('--uri is required (the MongoDB replica set holding your collections)')
  if (!/^mongodb(\+srv)?:\/\//.test(uri)) throw new UsageError("--uri must start with mongodb:// or mongodb+srv://")
  const ext = extname(out).toLowerCase()
  const format = (OUTPUT_FORMATS as Readonly<Record<string, OutputFormat>>)[ext]
  if (!format) throw new UsageError(`--out must end in ${Object.keys(OUTPUT_FORMATS).join(', ')}, got '${out}'`)
  return { uri, db: db ?? databaseInUri(uri) ?? DEFAULT_DB, out, format, force }
}

async function inferModels(client: MongoClient, dbName: string): Promise<InferredModel[]> {
  const collections = await readCollections(client.db(dbName))
  const names = uniqueModelNames(collections.map((collection) => collection.name))
  const models: InferredModel[] = []
  for (const [i, collection] of collections.entries()) models.push(await inferModel(names[i], collection))
  return models
}

function fail(message: string, code: number): never {
  process.stderr.write(`init: ${message}\n`)
  process.exit(code)
}

async function main(argv: readonly string[]): Promise<void> {
  let options: InitOptions | 'help'
  try {
    options = parseArgs(argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    fail(`${error.message} (${USAGE})`, 2)
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  const path = resolve(options.out)
  if (!options.force && existsSync(path)) fail(`${options.out} exists; pass --force to overwrite it`, 2)

  let client: MongoClient
  try {
    client = new MongoClient(options.uri, { serverSelectionTimeoutMS: 10_000 })
  } catch (error) {
    fail(`--uri is not a valid MongoDB connection string: ${(error as Error).message}`, 2)
  }
  let models: InferredModel[]
  try {
    models = await inferModels(client, options.db)
  } catch (error) {
    await client.close().catch(() => undefined)
    fail(`cannot read database '${options.db}': ${(error as Error).message}`, 1)
  }
  await client.close()
  if (models.length === 0) fail(`database '${options.db}' has no collections (is --db right?)`, 2)
  const served = models.filter(hasFields)
  if (served.length === 0) fail(`no collection of database '${options.db}' has a validator or documents to sample`, 2)

  const text = options.format === 'json' ? renderJson(models) : renderModule(models, options.db)
  try {
    writeFileSync(path, text, { flag: options.force ? 'w' : 'wx' })
  } catch (error) {
    fail(`cannot write ${options.out}: ${(error as Error).message}`, 1)
  }
  for (const model of models) process.stdout.write(`${summaryLine(model)}\n`)
  if (options.format === 'json') {
    for (const model of served) {
      for (const { path, reason } of model.skipped) process.stderr.write(`${model.name}: skipped '${path}': ${reason}\n`)
      if (model.spec.tenantField === null) process.stderr.write(`${model.name}: ${tenantNote(model)}\n`)
    }
  }
  process.stderr.write(`wrote ${options.out} (${served.length} model${served.length === 1 ? '' : 's'})\n`)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main(process.argv.slice(2))
