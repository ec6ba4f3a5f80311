/**
 * Who subscribes to what in the live aggregates benchmark, shared by every process that takes part.
 *
 * Combination k (of `combinations`) belongs to tenant k % 2; within its tenant, local index j = k / 2 names region
 * j % regions and one of five kinds (different `where`, `groupBy` and window), so the combinations of one region
 * differ in kind. Each connection speaks for one tenant and holds `subscriptionsPerConnection` subscriptions to
 * consecutive combinations of that tenant; every combination gets `subscribersPerCombination` of them.
 *
 * The aggregates run subscribes with `orderAggregate`; the baseline with `orderChanged(filter: { where })` for the
 * same `where`, totalling in the client (client-totals.ts).
 */

export const TENANTS = ['acme', 'globex'] as const

export interface LayoutOptions {
  readonly combinations: number
  readonly subscribersPerCombination: number
  readonly subscriptionsPerConnection: number
  readonly regions: number
}

export type GroupField = 'STATUS' | 'CURRENCY'

export interface Window {
  readonly size: number
  readonly slide?: number
  readonly on?: 'CREATED_AT'
}

export interface Combination {
  readonly tenant: number
  readonly region: number
  readonly kind: number
  readonly where: Record<string, unknown>
  readonly groupBy: readonly GroupField[]
  readonly window: Window | null
}

export interface Layout extends LayoutOptions {
  readonly subscriptions: number
  readonly connections: number
  readonly list: readonly Combination[]
}

export const regionName = (region: number) => `region-${region}`

/** The five kinds of dashboard panel; each `where` also names the combination's region. */
const KINDS: ReadonlyArray<{ extra: Record<string, unknown>; groupBy: readonly GroupField[]; window: Window | null }> = [
  { extra: {}, groupBy: ['STATUS'], window: null },
  { extra: { totalAmount: { gte: 50 } }, groupBy: ['STATUS', 'CURRENCY'], window: null },
  { extra: {}, groupBy: ['STATUS'], window: { size: 300, slide: 10, on: 'CREATED_AT' } },
  { extra: {}, groupBy: ['CURRENCY'], window: { size: 60, slide: 5 } },
  { extra: { status: { ne: 'CANCELLED' } }, groupBy: [], window: { size: 60 } },
]

export function createLayout(options: LayoutOptions): Layout {
  const { combinations, subscribersPerCombination: per, subscriptionsPerConnection: perConnection, regions } = options
  if (combinations % TENANTS.length !== 0) throw new Error(`--combinations must be a multiple of ${TENANTS.length}`)
  const perTenant = combinations / TENANTS.length
  if (perTenant < perConnection) throw new Error('fewer combinations per tenant than subscriptions per connection')
  if (perTenant > regions * KINDS.length) throw new Error(`at most ${regions * KINDS.length} combinations per tenant with ${regions} regions`)
  const subscriptions = combinations * per
  if ((subscriptions / TENANTS.length) % perConnection !== 0) throw new Error('subscriptions per tenant must be a multiple of --subscriptions-per-connection')
  const list: Combination[] = []
  for (let k = 0; k < combinations; k++) {
    const local = Math.floor(k / TENANTS.length)
    const region = local % regions
    const kind = (local + Math.floor(local / regions)) % KINDS.length
    const { extra, groupBy, window } = KINDS[kind]
    list.push({ tenant: k % TENANTS.length, region, kind, where: { region: { eq: regionName(region) }, ...extra }, groupBy, window })
  }
  if (new Set(list.map((c) => `${c.tenant}/${c.region}/${c.kind}`)).size !== list.length) throw new Error(`--regions ${regions} repeats a combination: try another count`)
  return { ...options, subscriptions, connections: subscriptions / perConnection, list }
}

/** Connection c speaks for tenant c % 2. */
export const tenantOfConnection = (layout: Layout, connection: number) => connection % TENANTS.length

/** The combination subscription `slot` of connection `c` subscribes to. */
export function combinationOf(layout: Layout, connection: number, slot: number): number {
  const tenant = tenantOfConnection(layout, connection)
  const perTenant = layout.combinations / TENANTS.length
  const local = (Math.floor(connection / TENANTS.length) * layout.subscriptionsPerConnection + slot) % perTenant
  return local * TENANTS.length + tenant
}

export const AGGREGATE_SUBSCRIPTION = `subscription Panel($where: OrderWhere, $groupBy: [OrderGroupBy!], $window: OrderAggregateWindow, $throttleMs: Int) {
  orderAggregate(where: $where, groupBy: $groupBy, window: $window, throttleMs: $throttleMs) {
    cursor asOf windowStart windowEnd
    groups { key { status currency } count sum { totalAmount } avg { totalAmount } min { totalAmount } max { totalAmount } }
  }
}`

export const CHANGES_SUBSCRIPTION = `subscription Changes($where: OrderWhere) {
  orderChanged(filter: { where: $where }) {
    cursor transition clusterTime documentId
    order { status currency totalAmount createdAt }
    orderBefore { status currency totalAmount createdAt }
  }
}`

/**
 * The commit a cursor stands for, as one number (cluster time t × 1e6 + i); NaN for a cursor that is a bare cluster
 * time (a value computed at subscribe time rather than after a change). The cursor body is base64url JSON.
 */
export function cursorCommit(cursor: string): number {
  const body = JSON.parse(Buffer.from(cursor.slice(0, cursor.indexOf('.')), 'base64url').toString('utf8')) as { p: (string | number)[] }
  const p = body.p
  return p[0] === 'k' && p.length === 4 ? (p[2] as number) * 1e6 + (p[3] as number) : Number.NaN
}

export const commitKey = (t: number, i: number) => t * 1e6 + i
