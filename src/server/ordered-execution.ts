import { execute, type ExecutionArgs } from 'graphql'
import type { Plugin } from 'graphql-yoga'

/**
 * Executes queries and mutations with graphql-js's reference `execute`, which builds each result object in the
 * order of its selection set (GraphQL spec, "Executing Selection Sets"). Yoga's default executor
 * (`@graphql-tools/executor`) fills an object's keys in the order its resolvers settle, so `{ gatewayNodes
 * streams changeCursor }` could come back as `streams, gatewayNodes, changeCursor`. Subscriptions are executed
 * per event by the subscription plugin, also with graphql-js. Runs on every transport (HTTP, SSE, WebSocket).
 */
export function useOrderedExecution(): Plugin {
  return {
    onExecute({ setExecuteFn }) {
      setExecuteFn((args: ExecutionArgs) => execute(args))
    },
  }
}
