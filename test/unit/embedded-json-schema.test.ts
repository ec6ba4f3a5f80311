import { Decimal128, Double, Long, ObjectId } from 'bson'
import { describe, expect, it } from 'vitest'
import { bsonTypeOf, compileJsonSchema } from '../../src/embedded/storage/json-schema.js'

describe('$jsonSchema', () => {
  it('names BSON types as MongoDB does, with number covering every numeric type', () => {
    expect([1, 2.5, new Double(1), new Long(1), Decimal128.fromString('1'), 'x', true, null, new Date(0), new ObjectId(), [], {}].map(bsonTypeOf)).toEqual([
      'int', 'double', 'double', 'long', 'decimal', 'string', 'bool', 'null', 'date', 'objectId', 'array', 'object',
    ])
    const number = compileJsonSchema({ bsonType: 'number' })
    expect([1, 2.5, new Long(3), Decimal128.fromString('4')].map((v) => number(v))).toEqual([[], [], [], []])
    expect(number('5')).toEqual([{ operatorName: 'bsonType', specifiedAs: { bsonType: 'number' }, reason: 'type did not match', consideredValue: '5', consideredType: 'string' }])
  })

  it('applies type-specific keywords only to values of that type', () => {
    const check = compileJsonSchema({ minimum: 5, minLength: 3, minItems: 2 })
    expect(check('ab')).toHaveLength(1)
    expect(check(7)).toEqual([])
    expect(check({ any: 'object' })).toEqual([])
    expect(check([1])).toEqual([{ operatorName: 'minItems', specifiedAs: { minItems: 2 }, reason: 'array did not match specified length', consideredValue: [1] }])
  })

  it('reports nested rules with their paths: properties, items, additionalProperties', () => {
    const check = compileJsonSchema({
      properties: { tags: { items: { enum: ['a', 'b'] } } },
      additionalProperties: false,
    })
    expect(check({ tags: ['a', 'z'], extra: 1 })).toEqual([
      {
        operatorName: 'properties',
        propertiesNotSatisfied: [
          {
            propertyName: 'tags',
            details: [
              {
                operatorName: 'items',
                reason: 'At least one item did not match the sub-schema',
                itemIndex: 1,
                details: [{ operatorName: 'enum', specifiedAs: { enum: ['a', 'b'] }, reason: 'value was not found in enum', consideredValue: 'z' }],
              },
            ],
          },
        ],
      },
      { operatorName: 'additionalProperties', specifiedAs: { additionalProperties: false }, additionalProperties: ['extra'] },
    ])
  })

  it('combines schemas with allOf, anyOf, oneOf and not', () => {
    expect(compileJsonSchema({ anyOf: [{ bsonType: 'string' }, { bsonType: 'int' }] })(1)).toEqual([])
    expect(compileJsonSchema({ oneOf: [{ minimum: 0 }, { maximum: 10 }] })(5)).toEqual([{ operatorName: 'oneOf', reason: 'more than one subschema matched' }])
    expect(compileJsonSchema({ not: { bsonType: 'null' } })(null)).toHaveLength(1)
    expect(compileJsonSchema({ allOf: [{ minimum: 0 }, { maximum: 10 }] })(11)).toEqual([
      { operatorName: 'allOf', schemasNotSatisfied: [{ index: 1, details: [{ operatorName: 'maximum', specifiedAs: { maximum: 10 }, reason: 'comparison failed', consideredValue: 11 }] }] },
    ])
  })

  it('refuses unknown and unsupported keywords with FailedToParse', () => {
    expect(() => compileJsonSchema({ frobnicate: 1 })).toThrow(expect.objectContaining({ code: 9, message: 'Unknown $jsonSchema keyword: frobnicate' }))
    expect(() => compileJsonSchema({ format: 'email' })).toThrow(expect.objectContaining({ code: 9, message: "$jsonSchema keyword 'format' is not currently supported" }))
    expect(() => compileJsonSchema({ bsonType: 'integer' })).toThrow(expect.objectContaining({ code: 9 }))
  })
})
