import { readFileSync } from 'node:fs'
import { generate } from '@graphql-codegen/cli'
import { describe, expect, it } from 'vitest'
import codegenConfig from '../../codegen.js'
import { printedSchema } from '../../src/schema/print.js'

describe('published contract', () => {
  it('schema/schema.graphql is the schema the code builds (run `npm run schema:print` after a change)', () => {
    expect(readFileSync('schema/schema.graphql', 'utf8')).toBe(printedSchema())
  })

  it('the typed test documents are generated from the committed schema (run `npm run codegen` after a change)', async () => {
    const outputs = (await generate({ ...codegenConfig, silent: true }, false)) as Array<{ filename: string; content: string }>
    expect(outputs.length).toBeGreaterThan(0)
    for (const output of outputs) expect(readFileSync(output.filename, 'utf8'), output.filename).toBe(output.content)
  }, 30_000)

  it('keeps the contract names of DESIGN §5', () => {
    const sdl = printedSchema()
    for (const name of [
      'orderChanged(filter: OrderChangeFilter, after: Cursor): OrderChangeEvent!',
      'userProfileUpdated(filter: UserProfileFilter, after: Cursor): UserChangeEvent!',
      'changeCursor: Cursor!',
      'orders(filter: OrderFilter, first: Int): OrderPage!',
      'explainSubscription(query: String!, variables: JSON): SubscriptionPlan!',
      'streams: [StreamStatus!]!',
      'gatewayNodes: [GatewayNode!]!',
    ]) {
      expect(sdl).toContain(name)
    }
  })
})
