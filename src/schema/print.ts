import { writeFileSync } from 'node:fs'
import { printSchema } from 'graphql'
import { schema } from './index.js'

/** `npm run schema:print`: writes schema/schema.graphql, the committed contract. */
export const printedSchema = () => `${printSchema(schema)}\n`

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../../schema/schema.graphql', import.meta.url), printedSchema())
}
