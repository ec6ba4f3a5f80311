/**
 * Who subscribes to what in the fan-out benchmark, shared by every process that takes part: connections split
 * evenly between tenants, each connection holds a few `orderChanged` subscriptions with distinct `customerId`
 * filters, and each customer is watched by `fanout` subscriptions on `fanout` different connections. Writes go
 * round-robin over the customers, so write `seq` concerns customer `seq % customers` and reaches exactly
 * `fanout` subscriptions.
 *
 * Order ids carry the phase and sequence number of their write (`fa` + 6 hex phase + 16 hex seq), so a receiver
 * knows from `documentId` alone which write it is looking at.
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
  /** Distinct customers over all tenants; customers [t * perTenant, (t + 1) * perTenant) belong to tenant t. */
  readonly customers: number
  readonly customersPerTenant: number
}

export function createLayout(options: LayoutOptions): Layout {
  const { connections, subscriptionsPerConnection: perConnection, tenants, fanout } = options
  if (connections % tenants.length !== 0) throw new Error(`--connections must be a multiple of ${tenants.length} (the tenants)`)
  const perTenant = (connections / tenants.length) * perConnection
  if (perTenant % fanout !== 0) throw new Error(`subscriptions per tenant (${perTenant}) must be a multiple of --fanout ${fanout}`)
  const customersPerTenant = perTenant / fanout
  // Consecutive subscriptions of one connection must name distinct customers.
  if (customersPerTenant < perConnection) throw new Error('too few customers per tenant for distinct filters per connection')
  return {
    ...options,
    subscriptions: connections * perConnection,
    customers: customersPerTenant * tenants.length,
    customersPerTenant,
  }
}

export const tenantOfConnection = (layout: Layout, connection: number): number =>
  Math.floor(connection / (layout.connections / layout.tenants.length))

/**
 * Subscription `g` is slot `g % perConnection` of connection `g / perConnection`. Within a tenant, local
 * subscription i watches local customer i % customersPerTenant: the `fanout` subscriptions of one customer are
 * customersPerTenant apart, so at least that many / perConnection connections apart.
 */
export function customerOfSubscription(layout: Layout, g: number): number {
  const connection = Math.floor(g / layout.subscriptionsPerConnection)
  const tenant = tenantOfConnection(layout, connection)
  const local = g - tenant * (layout.subscriptions / layout.tenants.length)
  return tenant * layout.customersPerTenant + (local % layout.customersPerTenant)
}

export const tenantOfCustomer = (layout: Layout, customer: number): number => Math.floor(customer / layout.customersPerTenant)

export const customerHex = (customer: number): string => `c0ffee00${customer.toString(16).padStart(16, '0')}`

export const orderHex = (phase: number, seq: number): string =>
  `fa${phase.toString(16).padStart(6, '0')}${seq.toString(16).padStart(16, '0')}`

/** Phase and seq of an order id made by {@link orderHex}; undefined for any other id. */
export function decodeOrderHex(hex: string): { phase: number; seq: number } | undefined {
  if (hex.length !== 24 || !hex.startsWith('fa')) return undefined
  return { phase: parseInt(hex.slice(2, 8), 16), seq: parseInt(hex.slice(8), 16) }
}

/** How many of writes 0 .. writes-1 concern `customer` (round-robin over `customers`). */
export const writesFor = (customers: number, customer: number, writes: number): number =>
  customer < writes ? Math.floor((writes - 1 - customer) / customers) + 1 : 0

/** The subscription document every client sends; the benchmark reads `documentId` and `order.createdAt`. */
export const ORDER_SUBSCRIPTION =
  'subscription FanOut($customerId: ID!) { orderChanged(filter: { customerId: $customerId }) { documentId order { createdAt } } }'
