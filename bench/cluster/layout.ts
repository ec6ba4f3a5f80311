/**
 * Who subscribes to what in the cluster benchmark, shared by every process that takes part.
 *
 * Connection c goes to node c % nodes and belongs to tenant c % tenants. Each connection holds
 * `subscriptionsPerConnection` `orderChanged` subscriptions, each filtered on one customer; each customer is
 * watched by `fanout` subscriptions. Writes go round-robin over the customers, so write `seq` concerns customer
 * `seq % customers` and reaches exactly `fanout` subscriptions.
 *
 * Order ids carry the phase and sequence number of their write (`fb` + 6 hex phase + 16 hex seq), so a receiver
 * (and the Redis channel counter) knows from the document id alone which write it is looking at.
 */

export interface LayoutOptions {
  readonly connections: number
  readonly subscriptionsPerConnection: number
  readonly tenants: readonly string[]
  /** Subscriptions each write matches. */
  readonly fanout: number
}

export interface Layout extends LayoutOptions {
  readonly subscriptions: number
  readonly customers: number
  readonly customersPerTenant: number
}

export const DATABASE_BASELINE = 'cluster_bench_single'
export const DATABASE_CLUSTER = 'cluster_bench'
export const COLLECTION = 'orders'

export function createLayout(options: LayoutOptions): Layout {
  const { connections, subscriptionsPerConnection: perConnection, tenants, fanout } = options
  if (connections % tenants.length !== 0) throw new Error(`connections must be a multiple of ${tenants.length}`)
  const perTenant = (connections / tenants.length) * perConnection
  if (perTenant % fanout !== 0) throw new Error(`subscriptions per tenant (${perTenant}) must be a multiple of fanout ${fanout}`)
  const customersPerTenant = perTenant / fanout
  if (customersPerTenant < perConnection) throw new Error('too few customers per tenant for distinct filters per connection')
  return { ...options, subscriptions: connections * perConnection, customers: customersPerTenant * tenants.length, customersPerTenant }
}

export const tenantOfConnection = (layout: Layout, connection: number): number => connection % layout.tenants.length

/**
 * Subscription g is slot g % perConnection of connection g / perConnection. Within its tenant, connection c is
 * local connection lc = c / tenants and its subscription local number l = lc * perConnection + slot watches local
 * customer l % customersPerTenant.
 */
export function customerOfSubscription(layout: Layout, g: number): number {
  const connection = Math.floor(g / layout.subscriptionsPerConnection)
  const slot = g % layout.subscriptionsPerConnection
  const tenant = tenantOfConnection(layout, connection)
  const local = Math.floor(connection / layout.tenants.length) * layout.subscriptionsPerConnection + slot
  return tenant * layout.customersPerTenant + (local % layout.customersPerTenant)
}

export const tenantOfCustomer = (layout: Layout, customer: number): number => Math.floor(customer / layout.customersPerTenant)

export const customerHex = (customer: number): string => `c0ffee01${customer.toString(16).padStart(16, '0')}`

export const orderHex = (phase: number, seq: number): string => `fb${phase.toString(16).padStart(6, '0')}${seq.toString(16).padStart(16, '0')}`

export function decodeOrderHex(hex: string): { phase: number; seq: number } | undefined {
  if (hex.length !== 24 || !hex.startsWith('fb')) return undefined
  return { phase: parseInt(hex.slice(2, 8), 16), seq: parseInt(hex.slice(8), 16) }
}

/** How many of writes 0 .. writes-1 concern `customer`. */
export const writesFor = (customers: number, customer: number, writes: number): number =>
  customer < writes ? Math.floor((writes - 1 - customer) / customers) + 1 : 0

export const ORDER_SUBSCRIPTION =
  'subscription ClusterBench($customerId: ID!, $after: Cursor) { orderChanged(filter: { customerId: $customerId }, after: $after) { cursor documentId order { createdAt } } }'
