import type { CodegenConfig } from '@graphql-codegen/cli'

/**
 * Typed documents for the operations the tests and the README's example client use.
 * `npm run codegen` regenerates test/fixtures/generated/ from schema/schema.graphql.
 */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['test/fixtures/operations/*.graphql'],
  generates: {
    'test/fixtures/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { DateTime: 'string', JSON: 'unknown', Cursor: 'string', ID: 'string' },
      },
    },
  },
  emitLegacyCommonJSImports: false,
}

export default config
