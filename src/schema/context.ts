import type { AuthContext } from '../server/auth.js'
import type { Loaders } from '../loaders/index.js'
import type { GatewayServices } from '../services.js'

/** What every resolver sees. */
export interface GraphQLContext {
  readonly auth: AuthContext
  readonly services: GatewayServices
  /** Per request: one batched lookup per model. */
  readonly loaders: Loaders
}
