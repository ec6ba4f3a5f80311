/**
 * A team's own data end to end: `npm run init` writes a configuration from an existing database, and a gateway
 * process started with it (CHANGEGATE_CONFIG) serves subscriptions on those collections, as does a `.ts` file, which
 * the compiled gateway compiles itself: under `npm start`, and outside any package as a file mounted into the Docker
 * image. A broken file stops the process with one line and exit code 2.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { changeCursor, collect, signToken, spawnGateway, wsClient } from '../fixtures/gateway.js'
import { nodeEntry } from '../fixtures/node-entry.js'
import { SUPPORT_TICKETS } from '../fixtures/cluster-model.js'
import { startMongo, type MongoTarget } from '../fixtures/mongo.js'

const run = promisify(execFile)
let mongo: MongoTarget
let dir: string

beforeAll(async () => {
  mongo = await startMongo()
  dir = mkdtempSync(join(tmpdir(), 'changegate-config-'))
  await mongo.db.createCollection('incidents', {
    validator: {
      $jsonSchema: {
        bsonType: 'object',
        required: ['orgId', 'title', 'level'],
        properties: {
          orgId: { bsonType: 'string' },
          title: { bsonType: 'string' },
          level: { enum: ['minor', 'major'] },
          openedAt: { bsonType: 'date' },
        },
      },
    },
  })
  await mongo.db.collection('devices').insertMany([
    { accountId: 'acme', name: 'sensor-1', battery: 0.5 },
    { accountId: 'globex', name: 'sensor-2', battery: 0.9 },
  ])
})

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await mongo?.stop()
})

describe('a configuration file', () => {
  it('written by `npm run init` starts a gateway whose generated subscriptions deliver', async () => {
    const file = join(dir, 'changegate.config.json')
    const init = await run(process.execPath, ['--import', 'tsx', 'src/models/init/cli.ts', '--uri', mongo.uri, '--db', mongo.db.databaseName, '--out', file])
    expect(init.stdout).toContain('Incident')
    expect(init.stdout).toContain('Device')
    const gw = await spawnGateway({ MONGODB_URI: mongo.uri, MONGODB_DB: mongo.db.databaseName, CHANGEGATE_CONFIG: file })
    try {
      const token = await signToken({ tenant: 'acme' })
      const after = await changeCursor(gw.url, token)
      const client = wsClient(gw.wsUrl, token)
      const incidents = collect<{ transition: string; incident: { title: string; level: string } }>(
        client,
        'subscription($a: Cursor) { incidentChanged(after: $a, filter: { where: { level: { eq: MAJOR } } }) { transition incident { title level } } }',
        { a: after },
      )
      const devices = collect<{ device: { name: string; battery: number } }>(client, 'subscription($a: Cursor) { deviceChanged(after: $a) { device { name battery } } }', {
        a: after,
      })
      await mongo.db.collection('incidents').insertMany([
        { orgId: 'acme', title: 'disk full', level: 'minor' },
        { orgId: 'acme', title: 'outage', level: 'major' },
        { orgId: 'globex', title: 'theirs', level: 'major' },
      ])
      await mongo.db.collection('devices').updateMany({}, { $set: { battery: 0.1 } })
      expect((await incidents.waitFor(1)).map((e) => [e.transition, e.incident])).toEqual([['ENTERED', { title: 'outage', level: 'MAJOR' }]])
      expect((await devices.waitFor(1)).map((e) => e.device)).toEqual([{ name: 'sensor-1', battery: 0.1 }])
      await client.dispose()
    } finally {
      await gw.stop()
    }
  })

  it('written in TypeScript (`changegate.config.ts` importing `defineConfig` from changegate) loads as `npm start` runs it', async () => {
    const gw = await spawnGateway(
      { MONGODB_URI: mongo.uri, MONGODB_DB: mongo.db.databaseName, ...SUPPORT_TICKETS.env },
      undefined,
      // As `npm start` runs it: the gateway compiled, the configuration compiled by the gateway (no bundled copy).
      { from: 'start' },
    )
    try {
      const token = await signToken({ tenant: 'acme' })
      const after = await changeCursor(gw.url, token)
      const client = wsClient(gw.wsUrl, token)
      const tickets = collect<{ transition: string; ticket: { title: string; priority: string } }>(
        client,
        'subscription($a: Cursor) { ticketChanged(after: $a, filter: { where: { title: { eq: "typed" } } }) { transition ticket { title priority } } }',
        { a: after },
      )
      await mongo.db.collection(SUPPORT_TICKETS.collection).insertMany([SUPPORT_TICKETS.make('acme', 'typed'), SUPPORT_TICKETS.make('globex', 'typed')])
      expect((await tickets.waitFor(1)).map((e) => [e.transition, e.ticket])).toEqual([['ENTERED', { title: 'typed', priority: 'URGENT' }]])
      await client.dispose()
      expect(tickets.events).toHaveLength(1)
    } finally {
      await gw.stop()
    }
  })

  it('written in TypeScript outside any package (as mounted into the Docker image) loads in the compiled gateway', async () => {
    const configDir = mkdtempSync(join(tmpdir(), 'changegate-ts-config-'))
    try {
      // Type-only syntax, `changegate` imported where no copy of the package is installed, a sibling module by its .ts name.
      writeFileSync(
        join(configDir, 'carriers.ts'),
        "export const CARRIERS = { POST: 'post', COURIER: 'courier' } as const satisfies Record<string, string>\n",
      )
      writeFileSync(
        join(configDir, 'changegate.config.ts'),
        [
          "import { defineConfig, type FieldSpec } from 'changegate'",
          "import { CARRIERS } from './carriers.ts'",
          "const weight: FieldSpec = 'Float'",
          'export default defineConfig({',
          "  models: { Parcel: { collection: 'parcels', tenantField: 'accountId', fields: { accountId: 'String!', label: 'String!', weight, carrier: { enum: CARRIERS } } } },",
          '})',
          '',
        ].join('\n'),
      )
      const gw = await spawnGateway({ MONGODB_URI: mongo.uri, MONGODB_DB: mongo.db.databaseName, CHANGEGATE_CONFIG: join(configDir, 'changegate.config.ts') })
      try {
        const token = await signToken({ tenant: 'acme' })
        const after = await changeCursor(gw.url, token)
        const client = wsClient(gw.wsUrl, token)
        const parcels = collect<{ transition: string; parcel: { label: string; weight: number; carrier: string } }>(
          client,
          'subscription($a: Cursor) { parcelChanged(after: $a, filter: { where: { carrier: { eq: COURIER } } }) { transition parcel { label weight carrier } } }',
          { a: after },
        )
        await mongo.db.collection('parcels').insertMany([
          { accountId: 'acme', label: 'by post', weight: 1.5, carrier: 'post' },
          { accountId: 'acme', label: 'by courier', weight: 2.5, carrier: 'courier' },
          { accountId: 'globex', label: 'theirs', weight: 3.5, carrier: 'courier' },
        ])
        expect((await parcels.waitFor(1)).map((e) => [e.transition, e.parcel])).toEqual([['ENTERED', { label: 'by courier', weight: 2.5, carrier: 'COURIER' }]])
        await client.dispose()
        expect(parcels.events).toHaveLength(1)
      } finally {
        await gw.stop()
      }
    } finally {
      rmSync(configDir, { recursive: true, force: true })
    }
  })

  it('written in TypeScript that does not compile stops the process with one line naming the file and the error, exit code 2', async () => {
    const file = join(dir, 'broken.config.ts')
    writeFileSync(file, "export default {\n  models: {\n    Ticket: { collection: 'tickets' \n")
    const failed = await runGateway(file)
    expect(failed.code).toBe(2)
    const lines = failed.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`changegate: invalid configuration: ${file}: could not be loaded (`)
    // The compiler's own message, with the place it points at.
    expect(lines[0]).toMatch(/broken\.config\.ts:\d+:\d+: ERROR: .+\)$/)
  })

  it.each([
    ['an unknown field type', { models: { Ticket: { collection: 't', tenantField: null, fields: { title: 'Text' } } } }, 'model Ticket, field title: unknown type "Text"'],
    ['a relation to a model that is not configured', { models: { Ticket: { collection: 't', tenantField: null, fields: { a: 'ObjectId' }, relations: { agent: { model: 'Agent', field: 'a' } } } } }, 'model Ticket, field relations.agent'],
  ])('with %s stops the process with one line naming it, exit code 2', async (_name, config, message) => {
    const file = join(dir, `bad-${Date.now()}.json`)
    writeFileSync(file, JSON.stringify(config))
    const failed = await runGateway(file)
    expect(failed.code).toBe(2)
    const lines = failed.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(message)
  })
})

/** Runs the compiled gateway with `configFile` until it exits (it is expected to refuse the file). */
function runGateway(configFile: string): Promise<{ code: number; stderr: string }> {
  const gateway = nodeEntry('gateway', 'build', { PORT: '0', CHANGEGATE_CONFIG: configFile, MONGODB_URI: mongo.uri, CHANGEGATE_JWT_SECRET: 'x'.repeat(32) })
  return run(process.execPath, gateway.args, { env: { ...process.env, ...gateway.env } }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => error,
  )
}
