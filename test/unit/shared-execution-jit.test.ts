import { buildSchema, parse, type GraphQLObjectType } from 'graphql'
import { compileQuery, isCompiledQuery } from 'graphql-jit'
import { describe, expect, it } from 'vitest'
import { onlyBooleanArguments } from '../../src/schema/shared-execution.js'

const schema = buildSchema(`
  type Query { item: Item }
  type Item { name(format: String): String, flag: Boolean }
`)
// A field resolver that reads its argument: graphql-jit compiles arguments only for those.
const item = schema.getType('Item') as GraphQLObjectType
item.getFields().name.resolve = (_source: unknown, args: { format?: string }) => `n:${args.format ?? ''}`
const root = { item: { flag: true } }

describe('compiled shared executions', () => {
  it('would run code written into a string argument (why client strings never reach graphql-jit)', () => {
    // graphql-jit's literal writer turns `"<date marker><text>"` into `new Date(<text>)` in the code it generates.
    const marker = '__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d'
    const hostile = parse(`{ item { name(format: "${marker}0)+(globalThis.__ran=1)+(0") } }`)
    const compiled = compileQuery(schema, hostile)
    expect(isCompiledQuery(compiled)).toBe(true)
    if (isCompiledQuery(compiled)) void compiled.query(root, {}, {})
    expect((globalThis as { __ran?: number }).__ran).toBe(1)
    delete (globalThis as { __ran?: number }).__ran
    expect(onlyBooleanArguments(hostile)).toBe(false)
  })

  it('compile documents whose only arguments are boolean literals', () => {
    expect(onlyBooleanArguments(parse('{ item { name flag @include(if: true) } }'))).toBe(true)
    expect(onlyBooleanArguments(parse('{ item { name(format: "x") } }'))).toBe(false)
    expect(onlyBooleanArguments(parse('{ item { ...F } } fragment F on Item { name(format: "x") }'))).toBe(false)
    expect(onlyBooleanArguments(parse('{ item { flag @skip(if: false) } }'))).toBe(true)
  })
})
