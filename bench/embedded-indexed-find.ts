/**
 * Equality finds on a 1,000,000-document collection of the embedded server: by `_id`, by fields with a
 * non-unique index (a customer with ~10 orders, a tenant with ~1,000) and by a field without index (a full
 * scan, for scale). Server and driver run in this process. `tsx bench/embedded-indexed-find.ts [docs]`
 */
import { MongoClient, ObjectId } from 'mongodb'
import { startEmbeddedMongo } from '../src/embedded/index.js'
import { markdownTable } from './lib/markdown.js'
import { formatNumber, summarize } from './lib/stats.js'

const DOCS = Number(process.argv[2] ?? 1_000_000)
const QUERIES = 50
const BATCH = 10_000

const server = await startEmbeddedMongo({ port: 0 })
const client = new MongoClient(server.uri)
await client.connect()
const orders = client.db('bench').collection('orders')
await orders.createIndex({ tenantId: 1, customerId: 1 })
await orders.createIndex({ customerId: 1 })

const customers = Array.from({ length: DOCS / 10 }, () => new ObjectId())
const ids: ObjectId[] = []
const loadStart = performance.now()
for (let at = 0; at < DOCS; at += BATCH) {
  const batch = Array.from({ length: Math.min(BATCH, DOCS - at) }, (_, i) => {
    const n = at + i
    const _id = new ObjectId()
    if (n % (DOCS / QUERIES) === 0) ids.push(_id)
    return { _id, tenantId: `t${n % 1000}`, customerId: customers[n % customers.length], ref: `r${n}`, totalAmount: n % 500 }
  })
  await orders.insertMany(batch, { ordered: false })
}
const loadSeconds = (performance.now() - loadStart) / 1000

async function time(label: string, filters: Array<Record<string, unknown>>, expected: number) {
  const samples = new Float64Array(filters.length)
  for (let i = 0; i < filters.length; i++) {
    const started = performance.now()
    const found = await orders.find(filters[i]).toArray()
    samples[i] = performance.now() - started
    if (found.length !== expected) throw new Error(`${label}: expected ${expected} documents, found ${found.length}`)
  }
  const s = summarize(samples)
  return [label, String(expected), formatNumber(s.p50), formatNumber(s.p99), formatNumber(s.max)]
}

const pick = (n: number) => Array.from({ length: QUERIES }, (_, i) => i * Math.floor(n / QUERIES))
const rows = [
  await time('_id', ids.map((_id) => ({ _id })), 1),
  await time('customerId (index customerId_1)', pick(customers.length).map((i) => ({ customerId: customers[i] })), 10),
  await time('tenantId (prefix of index tenantId_1_customerId_1)', pick(1000).map((i) => ({ tenantId: `t${i}` })), DOCS / 1000),
  await time('ref (no index: full scan)', pick(DOCS).slice(0, 10).map((i) => ({ ref: `r${i}` })), 1),
]
await client.close()
await server.stop()

process.stdout.write(
  `Embedded server, ${DOCS.toLocaleString('en')} documents (loaded in ${loadSeconds.toFixed(1)} s); ` +
    `${new Date().toISOString()}; Node ${process.version}\n\n` +
    markdownTable(['find by', 'documents returned', 'p50 (ms)', 'p99 (ms)', 'max (ms)'], rows) +
    '\n',
)
