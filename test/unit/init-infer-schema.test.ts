import { describe, expect, it } from 'vitest'
import { inferFromJsonSchema, jsonSchemaOf } from '../../src/models/init/infer-schema.js'

const fieldsOf = (properties: Record<string, unknown>, required: string[] = []) =>
  inferFromJsonSchema({ bsonType: 'object', required, properties })

describe('inferFromJsonSchema', () => {
  it('maps every bsonType to its GraphQL type', () => {
    const { fields } = fieldsOf({
      s: { bsonType: 'string' }, i: { bsonType: 'int' }, l: { bsonType: 'long' }, d: { bsonType: 'double' },
      dec: { bsonType: 'decimal' }, n: { bsonType: 'number' }, b: { bsonType: 'bool' }, o: { bsonType: 'objectId' },
      t: { bsonType: 'date' }, bin: { bsonType: 'binData' }, loose: {},
    })
    expect(fields).toEqual({
      s: 'String', i: 'Int', l: 'Int', d: 'Float', dec: 'Float', n: 'Float', b: 'Boolean', o: 'ObjectId',
      t: 'DateTime', bin: 'JSON', loose: 'JSON',
    })
  })

  it('reads JSON Schema `type` like bsonType', () => {
    const { fields } = fieldsOf({ s: { type: 'string' }, n: { type: 'number' }, b: { type: 'boolean' }, a: { type: 'array', items: { type: 'string' } } })
    expect(fields).toEqual({ s: 'String', n: 'Float', b: 'Boolean', a: '[String!]' })
  })

  it('makes fields in `required` non-null, unless null is allowed', () => {
    const { fields } = fieldsOf(
      { title: { bsonType: 'string' }, note: { bsonType: ['string', 'null'] }, count: { bsonType: 'int' } },
      ['title', 'note'],
    )
    expect(fields).toEqual({ title: 'String!', note: 'String', count: 'Int' })
  })

  it('unifies several bsonTypes: with null → nullable, numbers → Int or Float, otherwise JSON', () => {
    const { fields } = fieldsOf(
      {
        a: { bsonType: ['null', 'date'] },
        b: { bsonType: ['int', 'long'] },
        c: { bsonType: ['int', 'double'] },
        d: { bsonType: ['string', 'int'] },
        e: { bsonType: ['null'] },
      },
      ['a', 'b', 'c', 'd', 'e'],
    )
    expect(fields).toEqual({ a: 'DateTime', b: 'Int!', c: 'Float!', d: 'JSON!', e: 'JSON' })
  })

  it('turns objects with properties into nested objects and objects without into JSON', () => {
    const { fields } = fieldsOf(
      {
        sla: { bsonType: 'object', required: ['hours'], properties: { hours: { bsonType: 'int' }, tier: { bsonType: 'string' } } },
        extra: { bsonType: 'object' },
        untyped: { properties: { x: { bsonType: 'int' } } },
      },
      ['sla'],
    )
    expect(fields).toEqual({
      sla: { object: { hours: 'Int!', tier: 'String' }, required: true },
      extra: 'JSON',
      untyped: { object: { x: 'Int' } },
    })
  })

  it('stops nesting objects at four path segments', () => {
    const level = (inner: Record<string, unknown>) => ({ bsonType: 'object', properties: inner })
    const { fields } = fieldsOf({ a: level({ b: level({ c: level({ d: level({ e: { bsonType: 'int' } }), n: { bsonType: 'int' } }) }) }) })
    expect(fields).toEqual({ a: { object: { b: { object: { c: { object: { d: 'JSON', n: 'Int' } } } } } } })
  })

  it('turns arrays into lists of the item type', () => {
    const { fields } = fieldsOf(
      {
        tags: { bsonType: 'array', items: { bsonType: 'string' } },
        maybe: { bsonType: 'array', items: { bsonType: ['int', 'null'] } },
        lines: { bsonType: 'array', items: { bsonType: 'object', properties: { sku: { bsonType: 'string' } }, required: ['sku'] } },
        levels: { bsonType: 'array', items: { enum: ['a', 'b'] } },
        anything: { bsonType: 'array' },
        grid: { bsonType: 'array', items: { bsonType: 'array', items: { bsonType: 'int' } } },
      },
      ['tags', 'lines'],
    )
    expect(fields).toEqual({
      tags: '[String!]!',
      maybe: '[Int]',
      lines: { object: { sku: 'String!' }, list: true, required: true },
      levels: { enum: { A: 'a', B: 'b' }, list: true },
      anything: '[JSON]',
      grid: '[JSON!]',
    })
  })

  it('turns string enums into CONSTANT_CASE GraphQL values mapped to the stored ones', () => {
    const { fields } = fieldsOf(
      {
        status: { bsonType: 'string', enum: ['open', 'in-progress', 'inProgress', 'on hold', '2nd', 'true', ''] },
        tier: { enum: ['gold', null] },
        code: { bsonType: 'int', enum: [1, 2] },
      },
      ['status', 'tier', 'code'],
    )
    expect(fields).toEqual({
      status: {
        enum: { OPEN: 'open', IN_PROGRESS: 'in-progress', IN_PROGRESS_2: 'inProgress', ON_HOLD: 'on hold', V_2ND: '2nd', TRUE: 'true', EMPTY: '' },
        required: true,
      },
      tier: { enum: { GOLD: 'gold' } },
      code: 'Int!',
    })
    for (const name of Object.keys((fields.status as { enum: object }).enum)) expect(name).toMatch(/^[_A-Za-z][_0-9A-Za-z]*$/)
  })

  it('leaves out _id and skips names GraphQL cannot spell, with the reason', () => {
    const result = fieldsOf({
      _id: { bsonType: 'objectId' },
      'display-name': { bsonType: 'string' },
      id: { bsonType: 'string' },
      meta: { bsonType: 'object', properties: { 'a b': { bsonType: 'int' }, id: { bsonType: 'int' } } },
    })
    expect(result.fields).toEqual({ meta: { object: { id: 'Int' } } })
    expect(result.skipped).toEqual([
      { path: 'display-name', reason: 'not a valid GraphQL name' },
      { path: 'id', reason: "'id' is the implicit document id (from _id)" },
      { path: 'meta.a b', reason: 'not a valid GraphQL name' },
    ])
  })
})

describe('jsonSchemaOf', () => {
  const schema = { bsonType: 'object', properties: { a: { bsonType: 'int' } } }
  it('finds the $jsonSchema alone or inside a top-level $and', () => {
    expect(jsonSchemaOf({ $jsonSchema: schema })).toBe(schema)
    expect(jsonSchemaOf({ $and: [{ qty: { $gt: 0 } }, { $jsonSchema: schema }] })).toBe(schema)
  })
  it('ignores validators without properties to read', () => {
    expect(jsonSchemaOf(undefined)).toBeUndefined()
    expect(jsonSchemaOf({ qty: { $gt: 0 } })).toBeUndefined()
    expect(jsonSchemaOf({ $jsonSchema: { bsonType: 'object' } })).toBeUndefined()
  })
})
