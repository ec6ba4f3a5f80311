import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor'
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext } from 'graphql'
import type { Plugin } from 'graphql-yoga'
import { ErrorCode } from '../errors.js'
import { useSchemaNameHiding } from './hidden-names.js'

/** Operation limits, the same on every transport. */
export const OPERATION_LIMITS = {
  maxDepth: 12,
  maxAliases: 30,
  maxDirectives: 50,
  maxTokens: 2000,
  maxCost: 5000,
} as const

/**
 * Armor's validation rules report into the validation context (so an over-limit operation is an ordinary
 * per-operation error, never a thrown exception or a socket close) with code BAD_USER_INPUT.
 */
const report = {
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) =>
      context?.reportError(new GraphQLError(error.message, { extensions: { code: ErrorCode.BAD_USER_INPUT } })),
  ],
}

/** The token limit runs in the parser, where there is no validation context: the error is thrown, tagged. */
const tagThrown = {
  propagateOnRejection: true,
  onReject: [(_context: unknown, error: GraphQLError) => void Object.assign(error.extensions, { code: ErrorCode.BAD_USER_INPUT })],
}

/**
 * Depth, alias, directive, token and cost limits ({@link OPERATION_LIMITS}); in production also no
 * introspection, no "Did you mean …" suggestions and no schema name in an error that the request did not write.
 */
export function useHardening(opts: { production: boolean }): Plugin {
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: OPERATION_LIMITS.maxDepth, ...report },
    maxAliases: { n: OPERATION_LIMITS.maxAliases, ...report },
    maxDirectives: { n: OPERATION_LIMITS.maxDirectives, ...report },
    maxTokens: { n: OPERATION_LIMITS.maxTokens, ...tagThrown },
    costLimit: { maxCost: OPERATION_LIMITS.maxCost, ...report },
    // Suggestions are removed from every error (not only validation errors) by useSchemaNameHiding.
    blockFieldSuggestion: { enabled: false },
  })
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(armor as Plugin)
      if (opts.production) {
        addPlugin(useSchemaNameHiding())
        addPlugin({
          onValidate({ addValidationRule }) {
            addValidationRule(NoSchemaIntrospectionCustomRule)
          },
        })
      }
    },
  }
}
