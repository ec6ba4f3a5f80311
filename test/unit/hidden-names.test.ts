import { buildSchema, parse } from 'graphql'
import { describe, expect, it } from 'vitest'
import { HIDDEN_NAME, hideSchemaNames, namesWrittenBy } from '../../src/server/hidden-names.js'

const schema = buildSchema(`
  enum OrderStatus { PENDING SHIPPED }
  input OrderFilter { region: String status: [OrderStatus!] minTotal: Float }
  type Order { id: ID! status: OrderStatus! }
  type Query { orders(filter: OrderFilter, first: Int): [Order!]! }
`)

const written = (query: string, variables?: unknown) => namesWrittenBy({ document: parse(query), variables })

describe('hideSchemaNames', () => {
  it('drops suggestions and hides quoted schema names the request did not write', () => {
    const names = written('query($f: OrderFilter) { orders(filter: $f) { id } }', { f: { regoin: 'x' } })
    const message =
      'Variable "$f" got invalid value { regoin: "x" }; Field "regoin" is not defined by type "OrderFilter". Did you mean "region"?'
    expect(hideSchemaNames(message, schema, names)).toBe(
      'Variable "$f" got invalid value { regoin: "x" }; Field "regoin" is not defined by type "OrderFilter".',
    )
    const untyped = written('query($f: JSON) { orders(filter: $f) { id } }', { f: { regoin: 'x' } })
    expect(hideSchemaNames(message, schema, untyped)).toBe(
      `Variable "$f" got invalid value { regoin: "x" }; Field "regoin" is not defined by type "${HIDDEN_NAME}".`,
    )
  })

  it('hides enum type names and suggested values, keeping what the request wrote', () => {
    const names = written('query($f: OrderFilter) { orders(filter: $f) { id } }', { f: { status: ['SHIPED'] } })
    const message =
      'Variable "$f" got invalid value "SHIPED" at "f.status[0]"; Value "SHIPED" does not exist in "OrderStatus" enum. Did you mean the enum value "SHIPPED"?'
    expect(hideSchemaNames(message, schema, names)).toBe(
      `Variable "$f" got invalid value "SHIPED" at "f.status[0]"; Value "SHIPED" does not exist in "${HIDDEN_NAME}" enum.`,
    )
  })

  it('hides one part of a dotted name and unquoted type names in GraphQL messages, not in the gateway own', () => {
    const names = written('{ orders(frist: 1) { id } }')
    expect(hideSchemaNames('Unknown argument "frist" on field "Query.orders". Did you mean "first"?', schema, names)).toBe(
      `Unknown argument "frist" on field "${HIDDEN_NAME}.orders".`,
    )
    expect(hideSchemaNames('OrderStatus cannot represent a status value', schema, names)).toBe(`${HIDDEN_NAME} cannot represent a status value`)
    expect(hideSchemaNames('OrderStatus cannot represent a status value', schema, names, true)).toBe('OrderStatus cannot represent a status value')
  })

  it('leaves root type names alone outside quotes, where they are English words', () => {
    const names = written('{ orders(first: 100000) { id } }')
    expect(hideSchemaNames('Syntax Error: Query Cost limit of 5000 exceeded', schema, names)).toBe('Syntax Error: Query Cost limit of 5000 exceeded')
    expect(hideSchemaNames('Cannot query field "foo" on type "Query".', schema, names)).toBe(`Cannot query field "foo" on type "${HIDDEN_NAME}".`)
  })

  it('leaves built-in scalars, values and plain words alone', () => {
    const names = written('{ orders(first: "x") { id } }')
    const message = 'Int cannot represent non-integer value: "x"; the status of region is unknown'
    expect(hideSchemaNames(message, schema, names)).toBe(message)
  })
})
