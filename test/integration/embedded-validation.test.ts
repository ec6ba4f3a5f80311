/**
 * Collection validators through the driver: `$jsonSchema` and query-operator validators, MongoDB's
 * DocumentValidationFailure (121) and errInfo, validationLevel, validationAction, bypassDocumentValidation and
 * collMod. Passes against MongoDB 7 too.
 */
import { MongoServerError, type Collection, type Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startMongo, type MongoTarget } from '../fixtures/mongo.js'

let mongo: MongoTarget
beforeAll(async () => {
  mongo = await startMongo()
})
afterAll(async () => {
  await mongo?.stop()
})

let counter = 0
const schema = {
  bsonType: 'object',
  required: ['name', 'age'],
  properties: {
    name: { bsonType: 'string' },
    age: { bsonType: 'int', minimum: 0 },
    role: { enum: ['admin', 'user'] },
  },
}

async function collection(options: Document): Promise<Collection> {
  return mongo.db.createCollection(`valid_${++counter}`, options)
}

async function failure(write: Promise<unknown>): Promise<MongoServerError> {
  const error = await write.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(MongoServerError)
  expect(error).toMatchObject({ code: 121 })
  return error as MongoServerError
}

describe('validators', () => {
  it('refuses an insert that breaks the $jsonSchema, with MongoDB errInfo', async () => {
    const coll = await collection({ validator: { $jsonSchema: schema } })
    const error = await failure(coll.insertOne({ _id: 1 as never, name: 5, age: -1 }))
    expect(error.errInfo).toEqual({
      failingDocumentId: 1,
      details: {
        operatorName: '$jsonSchema',
        schemaRulesNotSatisfied: [
          {
            operatorName: 'properties',
            propertiesNotSatisfied: [
              {
                propertyName: 'name',
                details: [{ operatorName: 'bsonType', specifiedAs: { bsonType: 'string' }, reason: 'type did not match', consideredValue: 5, consideredType: 'int' }],
              },
              {
                propertyName: 'age',
                details: [{ operatorName: 'minimum', specifiedAs: { minimum: 0 }, reason: 'comparison failed', consideredValue: -1 }],
              },
            ],
          },
        ],
      },
    })
    const missing = await failure(coll.insertOne({ _id: 2 as never, name: 'a' }))
    expect(missing.errInfo?.details.schemaRulesNotSatisfied).toEqual([
      { operatorName: 'required', specifiedAs: { required: ['name', 'age'] }, missingProperties: ['age'] },
    ])
    await coll.insertOne({ _id: 3 as never, name: 'ok', age: 30, role: 'user' })
    expect(await coll.countDocuments()).toBe(1)
  })

  it('checks updates, and reports a query-operator validator clause by clause', async () => {
    const coll = await collection({ validator: { qty: { $gte: 0 }, status: { $in: ['a', 'b'] } } })
    await coll.insertOne({ _id: 1 as never, qty: 1, status: 'a' })
    const error = await failure(coll.updateOne({ _id: 1 as never }, { $set: { qty: -5 } }))
    expect(error.errInfo).toEqual({
      failingDocumentId: 1,
      details: {
        operatorName: '$and',
        clausesNotSatisfied: [
          { index: 0, details: { operatorName: '$gte', specifiedAs: { qty: { $gte: 0 } }, reason: 'comparison failed', consideredValue: -5 } },
        ],
      },
    })
    expect(await coll.findOne({ _id: 1 as never })).toEqual({ _id: 1, qty: 1, status: 'a' })
  })

  it('moderate validation lets already-invalid documents be updated; warn and bypass let writes through', async () => {
    const coll = await collection({ validator: { $jsonSchema: schema }, validationLevel: 'moderate' })
    await coll.insertOne({ _id: 'legacy' as never, name: 'old' }, { bypassDocumentValidation: true })
    await coll.insertOne({ _id: 'valid' as never, name: 'new', age: 1 })
    await coll.updateOne({ _id: 'legacy' as never }, { $set: { note: 'still missing age' } })
    await failure(coll.updateOne({ _id: 'valid' as never }, { $unset: { age: '' } }))
    await mongo.db.command({ collMod: coll.collectionName, validationAction: 'warn' })
    await coll.updateOne({ _id: 'valid' as never }, { $unset: { age: '' } })
    expect(await coll.findOne({ _id: 'valid' as never })).toEqual({ _id: 'valid', name: 'new' })
  })

  it('collMod sets a validator; listCollections reports it with its level and action', async () => {
    const coll = await collection({})
    await coll.insertOne({ _id: 1 as never, n: 1 })
    await mongo.db.command({ collMod: coll.collectionName, validator: { n: { $type: 'int' } }, validationLevel: 'strict', validationAction: 'error' })
    const [info] = await mongo.db.listCollections({ name: coll.collectionName }, { nameOnly: false }).toArray()
    expect(info.options).toEqual({ validator: { n: { $type: 'int' } }, validationLevel: 'strict', validationAction: 'error' })
    await failure(coll.insertOne({ _id: 2 as never, n: 'x' }))
    const result = await coll.insertMany([{ _id: 3 as never, n: 3 }, { _id: 4 as never, n: 'y' }], { ordered: false }).catch((e: unknown) => e)
    expect(result).toMatchObject({ code: 121, insertedCount: 1 })
  })

  it('refuses bad validator settings as MongoDB does', async () => {
    await expect(collection({ validator: { $jsonSchema: { bsonType: 'object', frobnicate: 1 } } })).rejects.toMatchObject({ code: 9 })
    await expect(collection({ validator: { a: 1 }, validationLevel: 'sometimes' })).rejects.toMatchObject({ code: 2 })
  })
})
