import { describe, expect, it } from 'vitest'
import { parseArgs, databaseInUri } from '../../src/models/init/cli.js'
import { renderJson, renderModule, summaryLine } from '../../src/models/init/emit.js'
import { guessTenantField, inferModel, type CollectionInput } from '../../src/models/init/infer-model.js'

const collection = (name: string, input: Partial<CollectionInput> = {}): CollectionInput => ({
  name,
  sample: async () => [],
  ...input,
})

describe('guessTenantField', () => {
  it('takes tenantId, orgId, tenant, accountId in that order', () => {
    expect(guessTenantField({ accountId: 'String!', orgId: 'String', tenant: 'String' })).toBe('orgId')
    expect(guessTenantField({ accountId: 'ObjectId!', tenant: 'String' })).toBe('tenant')
    expect(guessTenantField({ accountId: 'Int', title: 'String' })).toBe('accountId')
    expect(guessTenantField({ tenantId: 'String', orgId: 'String' })).toBe('tenantId')
  })
  it('is null without one, or when the field cannot hold an identifier', () => {
    expect(guessTenantField({ title: 'String', tenants: 'String' })).toBeNull()
    expect(guessTenantField({ tenant: { object: { id: 'String' } }, orgId: '[String!]' })).toBeNull()
  })
})

describe('inferModel', () => {
  it('prefers the validator and does not sample', async () => {
    const sample = async (): Promise<never> => { throw new Error('sampled') }
    const model = await inferModel('Ticket', collection('tickets', {
      validator: { $jsonSchema: { required: ['orgId'], properties: { orgId: { bsonType: 'string' }, title: { bsonType: 'string' } } } },
      sample,
    }))
    expect(model).toEqual({
      name: 'Ticket',
      source: { kind: 'validator' },
      spec: { collection: 'tickets', tenantField: 'orgId', fields: { orgId: 'String!', title: 'String' } },
      skipped: [],
    })
  })
  it('samples a collection without a usable validator and includes the tenant field in fields', async () => {
    const model = await inferModel('Event', collection('events', {
      validator: { qty: { $gt: 0 } },
      sample: async () => [{ tenantId: 't1', n: 1 }, { tenantId: 't2', n: 2 }],
    }))
    expect(model.source).toEqual({ kind: 'sample', documents: 2 })
    expect(model.spec).toEqual({ collection: 'events', tenantField: 'tenantId', fields: { n: 'Int!', tenantId: 'String!' } })
  })
})

describe('output', () => {
  const models = async () => [
    await inferModel('Ticket', collection('tickets', {
      validator: { $jsonSchema: { required: ['orgId'], properties: {
        orgId: { bsonType: 'string' }, 'bad-name': { bsonType: 'int' },
        priority: { enum: ['low', 'high'] }, 'it\'s': { bsonType: 'int' },
      } } },
    })),
    await inferModel('Log', collection('logs', { sample: async () => [{ line: 'x' }] })),
    await inferModel('Empty', collection('empties')),
  ]

  it('writes a defineConfig module with a comment on each model source and missing tenant field', async () => {
    const text = renderModule(await models(), 'shop')
    expect(text).toContain("import { defineConfig } from 'changegate'\n\nexport default defineConfig({\n  models: {\n")
    expect(text).toContain(`    // tickets: fields from its $jsonSchema validator.
    // Skipped 'bad-name': not a valid GraphQL name.
    // Skipped 'it\\'s': not a valid GraphQL name.
    Ticket: {
      collection: 'tickets',
      tenantField: 'orgId',
      fields: {
        orgId: 'String!',
        priority: { enum: { LOW: 'low', HIGH: 'high' } },
      },
    },`)
    expect(text).toContain(`    // logs: fields from 1 sampled document.
    Log: {
      collection: 'logs',
      // No tenant field found (tenantId, orgId, tenant, accountId): every authenticated caller sees every
      // Log. To scope it, set tenantField to the dotted path of the tenant in the document.
      tenantField: null,
      fields: {
        line: 'String!',
      },
    },`)
    expect(text).toContain('    },\n    // Left out empties: no validator and no documents to sample.\n  },\n})\n')
    expect(text).not.toContain('Empty:')
    expect(text.endsWith('})\n')).toBe(true)
  })

  it('writes the same models as plain JSON', async () => {
    expect(JSON.parse(renderJson(await models()))).toEqual({
      models: {
        Ticket: { collection: 'tickets', tenantField: 'orgId', fields: { orgId: 'String!', priority: { enum: { LOW: 'low', HIGH: 'high' } } } },
        Log: { collection: 'logs', tenantField: null, fields: { line: 'String!' } },
      },
    })
  })

  it('says in one line per collection where each model came from', async () => {
    expect((await models()).map(summaryLine)).toEqual([
      'Ticket ← tickets (validator, tenant field orgId, 2 fields skipped)',
      'Log ← logs (1 sampled document, no tenant field)',
      'left out empties: no validator and no documents to sample',
    ])
  })

  it('breaks long field specs over several lines', async () => {
    const long = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`field${i}`, { bsonType: 'string' }]))
    const model = await inferModel('Wide', collection('wides', { validator: { $jsonSchema: { properties: { nested: { bsonType: 'object', properties: long } } } } }))
    const text = renderModule([model], 'shop')
    expect(text).toContain("        nested: {\n          object: {\n            field0: 'String',\n")
    expect(text.split('\n').every((line) => line.length <= 110)).toBe(true)
  })
})

describe('arguments', () => {
  it('defaults --db to the database in the URI, else changegate, and --out to changegate.config.ts', () => {
    expect(parseArgs(['--uri', 'mongodb://h:27017/shop?replicaSet=rs0'])).toEqual({
      uri: 'mongodb://h:27017/shop?replicaSet=rs0', db: 'shop', out: 'changegate.config.ts', format: 'module', force: false,
    })
    expect(parseArgs(['--uri=mongodb://h/', '--out', 'cfg.json', '--force'])).toMatchObject({ db: 'changegate', out: 'cfg.json', format: 'json', force: true })
    expect(parseArgs(['--uri', 'mongodb://h/a', '--db', 'b'])).toMatchObject({ db: 'b' })
    expect(databaseInUri('mongodb+srv://u:p@cluster.example/my%20db')).toBe('my db')
  })
  it('refuses missing or unknown arguments and output types it cannot write', () => {
    expect(() => parseArgs([])).toThrow('--uri is required')
    expect(() => parseArgs(['--uri', 'http://x'])).toThrow('--uri must start with mongodb://')
    expect(() => parseArgs(['--uri', 'mongodb://h', '--out', 'x.yaml'])).toThrow("--out must end in .ts, .mts, .mjs, .js, .json, got 'x.yaml'")
    expect(() => parseArgs(['--uri', 'mongodb://h', '--verbose'])).toThrow("unknown argument '--verbose'")
    expect(() => parseArgs(['--uri'])).toThrow('--uri needs a value')
  })
})
