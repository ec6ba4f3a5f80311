/**
 * `npm run init` as a user runs it: a child process against a database with one collection that has a
 * `$jsonSchema` validator and others that have only documents.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Double, Int32, ObjectId } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startMongo, type MongoTarget } from '../fixtures/mongo.js'

const run = promisify(execFile)
let mongo: MongoTarget
let dir: string

interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

async function init(...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/models/init/cli.ts', ...args], { encoding: 'utf8' })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

const target = () => ['--uri', mongo.uri, '--db', mongo.db.databaseName]

beforeAll(async () => {
  mongo = await startMongo()
  dir = mkdtempSync(join(tmpdir(), 'changegate-init-'))
  await mongo.db.createCollection('tickets', {
    validator: {
      $jsonSchema: {
        bsonType: 'object',
        required: ['orgId', 'title', 'status'],
        properties: {
          _id: { bsonType: 'objectId' },
          orgId: { bsonType: 'string' },
          title: { bsonType: 'string' },
          status: { enum: ['open', 'in-progress', 'closed'] },
          severity: { bsonType: ['int', 'null'] },
          tags: { bsonType: 'array', items: { bsonType: 'string' } },
          sla: { bsonType: 'object', required: ['hours'], properties: { hours: { bsonType: 'int' } } },
          dueAt: { bsonType: 'date' },
        },
      },
    },
  })
  const customer = new ObjectId()
  await mongo.db.collection('order_items').insertMany([
    { accountId: 'a1', customerId: customer, quantity: new Int32(2), price: new Double(10), lines: [{ sku: 'x', n: 1 }], createdAt: new Date(), 'unit-price': 1 },
    { accountId: 'a2', customerId: customer, quantity: new Int32(3), price: new Double(12.5), lines: [], note: 'fragile' },
  ])
  await mongo.db.collection('categories').insertMany(Array.from({ length: 1200 }, (_, i) => ({ label: `c${i}` })))
})

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await mongo?.stop()
})

describe('npm run init', () => {
  it('writes JSON models from the validator and from sampled documents', async () => {
    const out = join(dir, 'config.json')
    const result = await init(...target(), '--out', out)
    expect(result.code).toBe(0)
    expect(result.stdout.trim().split('\n')).toEqual([
      'Category ← categories (1000 sampled documents, no tenant field)',
      'OrderItem ← order_items (2 sampled documents, tenant field accountId, 1 field skipped)',
      'Ticket ← tickets (validator, tenant field orgId)',
    ])
    expect(result.stderr).toContain('Category: No tenant field found')
    expect(result.stderr).toContain("OrderItem: skipped 'unit-price': not a valid GraphQL name")
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({
      models: {
        Category: { collection: 'categories', tenantField: null, fields: { label: 'String!' } },
        OrderItem: {
          collection: 'order_items',
          tenantField: 'accountId',
          fields: {
            accountId: 'String!',
            createdAt: 'DateTime',
            customerId: 'ObjectId!',
            lines: { object: { n: 'Int!', sku: 'String!' }, list: true, required: true },
            note: 'String',
            price: 'Float!',
            quantity: 'Int!',
          },
        },
        Ticket: {
          collection: 'tickets',
          tenantField: 'orgId',
          fields: {
            dueAt: 'DateTime',
            orgId: 'String!',
            severity: 'Int',
            sla: { object: { hours: 'Int!' } },
            status: { enum: { OPEN: 'open', IN_PROGRESS: 'in-progress', CLOSED: 'closed' }, required: true },
            tags: '[String!]',
            title: 'String!',
          },
        },
      },
    })
  })

  it('writes a defineConfig module and refuses to overwrite it without --force', async () => {
    const out = join(dir, 'changegate.config.ts')
    expect((await init(...target(), '--out', out)).code).toBe(0)
    const text = readFileSync(out, 'utf8')
    expect(text).toContain("import { defineConfig } from 'changegate'")
    expect(text).toContain("    // tickets: fields from its $jsonSchema validator.\n    Ticket: {\n      collection: 'tickets',\n      tenantField: 'orgId',\n")
    expect(text).toContain("        status: { enum: { OPEN: 'open', IN_PROGRESS: 'in-progress', CLOSED: 'closed' }, required: true },\n")
    expect(text).toContain("    // order_items: fields from 2 sampled documents.\n    // Skipped 'unit-price': not a valid GraphQL name.\n    OrderItem: {\n")
    expect(text).toContain('every authenticated caller sees every\n      // Category.')

    writeFileSync(out, '// mine\n')
    const refused = await init(...target(), '--out', out)
    expect(refused).toMatchObject({ code: 2, stdout: '' })
    expect(refused.stderr).toBe(`init: ${out} exists; pass --force to overwrite it\n`)
    expect(readFileSync(out, 'utf8')).toBe('// mine\n')
    expect((await init(...target(), '--out', out, '--force')).code).toBe(0)
    expect(readFileSync(out, 'utf8')).toContain('Ticket: {')
  })
})
