/**
 * `npx tsx bench/fanout/heap-diff.ts [--connections N] [--root PATH] [--retainers] [--no-bare]`: what one subscription costs the gateway's heap, by kind of
 * object. Takes a heap snapshot before any connection, one with N connections open (default 400, half per tenant)
 * and one once their 5 × N `orderChanged` subscriptions (the fan-out benchmark's) are live, and prints the
 * differences per idle connection and per subscription, grouped by V8 node type and constructor.
 * Then, by default (`--no-bare` skips it), the floor: the bare `ws` server of bench:fanout's S2 (bare-server.ts) with
 * the same N acknowledged connections from the same client code, its heap per idle connection by kind beside the
 * gateway's, their ratio, and both processes' RSS per idle connection (VmRSS after a forced GC, before vs after).
 */
import { markdownTable } from '../lib/markdown.js'
import { startServerProcess, startWorker } from '../lib/processes.js'
import { formatNumber as n, formatRatio } from '../lib/stats.js'
import { freePort } from '../lib/ports.js'
import { ROOT, startGateway, waitForSubscribers, type MemoryReading } from './gateway-process.js'
import { startBareServer } from './bare-process.js'
import { compiled } from '../lib/compiled.js'
import { createLayout } from './layout.js'

interface Snapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: string[]
      readonly node_types: [string[], ...unknown[]]
      readonly edge_fields: string[]
      readonly edge_types: [string[], ...unknown[]]
    }
  }
  readonly nodes: number[]
  readonly edges: number[]
  readonly strings: string[]
}

/** `--retainers`: arrays are counted by what holds them (`array ← Constructor.property`), not as one kind. */
const withRetainers = process.argv.includes('--retainers')

/** Self size and count by `type` (or `type:constructor` for objects and closures). */
function byKind(text: string): Map<string, { count: number; bytes: number }> {
  const { snapshot, nodes, edges, strings } = JSON.parse(text) as Snapshot
  const fields = snapshot.meta.node_fields
  const [type, name, selfSize, edgeCount] = ['type', 'name', 'self_size', 'edge_count'].map((f) => fields.indexOf(f))
  const types = snapshot.meta.node_types[0]
  const kindOf = (i: number) => {
    const t = types[nodes[i + type]]
    if (t === 'object' || t === 'closure') return `${t}: ${strings[nodes[i + name]] || '(anonymous)'}`
    // With --retainers, code objects by name too (compiled regular expressions, bytecode of a function).
    return withRetainers && t === 'code' ? `code: ${(strings[nodes[i + name]] || '(anonymous)').slice(0, 60)}` : t
  }
  // The first strong retainer of every array, as `Holder.edge` (a closure also by its file and line).
  const holders = new Map<number, string>()
  if (withRetainers) {
    const edgeFields = snapshot.meta.edge_fields
    const [edgeType, edgeName, toNode] = ['type', 'name_or_index', 'to_node'].map((f) => edgeFields.indexOf(f))
    const edgeTypes = snapshot.meta.edge_types[0]
    const firstEdge: number[] = []
    for (let i = 0, e = 0; i < nodes.length; i += fields.length) {
      firstEdge[i / fields.length] = e
      e += nodes[i + edgeCount] * edgeFields.length
    }
    const edgeTo = (i: number, wanted: string) => {
      const from = firstEdge[i / fields.length]
      for (let e = from; e < from + nodes[i + edgeCount] * edgeFields.length; e += edgeFields.length) {
        const et = edgeTypes[edges[e + edgeType]]
        if (et !== 'element' && et !== 'hidden' && strings[edges[e + edgeName]] === wanted) return edges[e + toNode]
      }
      return undefined
    }
    const locations = new Map<number, string>()
    const snap = JSON.parse(text) as { locations?: number[]; snapshot: { meta: { location_fields?: string[] } } }
    const lf = snap.snapshot.meta.location_fields?.length ?? 4
    for (let l = 0; l < (snap.locations?.length ?? 0); l += lf) locations.set(snap.locations![l], `${snap.locations![l + 2] + 1}`)
    const where = (i: number) => {
      if (types[nodes[i + type]] !== 'closure') return ''
      const shared = edgeTo(i, 'shared')
      const script = shared === undefined ? undefined : edgeTo(shared, 'script_or_debug_info')
      const path = script === undefined ? '?' : (strings[nodes[script + name]] || '?').replace(/^.*\/(src|node_modules)\//, '')
      return ` @${path}:${locations.get(i) ?? '?'}`
    }
    let e = 0
    for (let i = 0; i < nodes.length; i += fields.length) {
      for (let n = 0; n < nodes[i + edgeCount]; n++, e += edgeFields.length) {
        const et = edgeTypes[edges[e + edgeType]]
        const to = edges[e + toNode]
        if (et === 'weak' || holders.has(to) || types[nodes[to + type]] !== 'array') continue
        const label = et === 'element' || et === 'hidden' ? `[${et}]` : strings[edges[e + edgeName]]
        holders.set(to, `${kindOf(i)}${where(i)} .${label}`)
      }
    }
  }
  const out = new Map<string, { count: number; bytes: number }>()
  for (let i = 0; i < nodes.length; i += fields.length) {
    const holder = holders.get(i)
    const key = holder === undefined ? kindOf(i) : `array ← ${holder}`
    const entry = out.get(key) ?? { count: 0, bytes: 0 }
    entry.count++
    entry.bytes += nodes[i + selfSize]
    out.set(key, entry)
  }
  return out
}

const argValue = (flag: string) => {
  const at = process.argv.indexOf(flag)
  return at > 0 ? process.argv[at + 1] : undefined
}
const connections = Number(argValue('--connections') ?? 400)
/** `--root PATH`: the checkout whose gateway runs (e.g. a worktree of an earlier revision); default this one. */
const root = argValue('--root')
/** `--no-bare`: skip the bare `ws` baseline. */
const withBare = !process.argv.includes('--no-bare')
const layout = createLayout({ connections, subscriptionsPerConnection: 5, tenants: ['acme', 'globex'], fanout: 10 })

type Kinds = Map<string, { count: number; bytes: number }>

interface Measured {
  heapSnapshot(): Promise<string>
  memory(): Promise<MemoryReading>
}

interface IdleMeasurement {
  readonly empty: Kinds
  readonly connected: Kinds
  readonly rss: { readonly before: MemoryReading; readonly connected: MemoryReading }
}

/** Heap snapshots and RSS of `target` before and after `connect` opens the idle connections. */
async function measureIdle(target: Measured, connect: () => Promise<unknown>): Promise<IdleMeasurement> {
  const empty = byKind(await target.heapSnapshot())
  // Both RSS readings come after one snapshot and before the next: whatever building a snapshot leaves in the
  // process's allocator is in both, not only in the reading with connections.
  const before = await target.memory()
  await connect()
  const connected = await target.memory()
  return { empty, connected: byKind(await target.heapSnapshot()), rss: { before, connected } }
}

/** Differences by kind, largest first. */
function diff(before: Kinds, after: Kinds): Array<{ kind: string; count: number; bytes: number }> {
  return [...after.entries()]
    .map(([kind, a]) => ({ kind, count: a.count - (before.get(kind)?.count ?? 0), bytes: a.bytes - (before.get(kind)?.bytes ?? 0) }))
    .sort((x, y) => y.bytes - x.bytes)
}

const totalBytes = (rows: ReadonlyArray<{ bytes: number }>) => rows.reduce((sum, r) => sum + r.bytes, 0)

const section = (title: string, before: Kinds, after: Kinds, unit: string, count: number) => {
  const rows = diff(before, after)
  const per = (value: number) => value / count
  return [
    `${title}: ${n(per(totalBytes(rows)))} bytes`,
    '',
    markdownTable(
      ['kind', `bytes per ${unit}`, `objects per ${unit}`],
      rows.slice(0, withRetainers ? 40 : 25).map((r) => [r.kind, n(per(r.bytes)), n(per(r.count))]),
    ),
    '',
  ]
}

/** The bare server's idle connection beside the gateway's, kind by kind, the kinds largest on either side first. */
function baselineSection(gateway: IdleMeasurement, bare: IdleMeasurement, bareCommand: string, gatewayPid: number, barePid: number): string[] {
  const g = new Map(diff(gateway.empty, gateway.connected).map((r) => [r.kind, r]))
  const b = new Map(diff(bare.empty, bare.connected).map((r) => [r.kind, r]))
  const per = (value: number) => value / connections
  const kinds = [...new Set([...g.keys(), ...b.keys()])]
  const size = (kind: string) => Math.max(Math.abs(g.get(kind)?.bytes ?? 0), Math.abs(b.get(kind)?.bytes ?? 0))
  const rows = kinds.sort((x, y) => size(y) - size(x)).slice(0, withRetainers ? 40 : 25)
  const gatewayTotal = per(totalBytes([...g.values()]))
  const bareTotal = per(totalBytes([...b.values()]))
  const rssPer = ({ rss }: IdleMeasurement) => ((rss.connected.gcKb - rss.before.gcKb) * 1024) / connections
  const rssLine = (label: string, m: IdleMeasurement, pid: number) =>
    `- ${label} (pid ${pid}): ${n(rssPer(m))} bytes (VmRSS ${n(m.rss.before.gcKb)} → ${n(m.rss.connected.gcKb)} kB; without the GC ${n(m.rss.before.rawKb)} → ${n(m.rss.connected.rawKb)} kB)`
  return [
    `bare ws: \`${bareCommand}\` (bench/fanout/bare-server.ts), the same client code and ${n(connections)} connections, connection_init acknowledged`,
    '',
    `Bare ws heap per idle connection (${n(connections)} connections, connection_init acknowledged): ${n(bareTotal)} bytes`,
    '',
    markdownTable(
      ['kind', 'gateway bytes per connection', 'bare ws bytes per connection', 'gateway − bare ws', 'gateway objects per connection', 'bare ws objects per connection'],
      rows.map((kind) => {
        const [gb, bb] = [g.get(kind)?.bytes ?? 0, b.get(kind)?.bytes ?? 0]
        return [kind, n(per(gb)), n(per(bb)), n(per(gb - bb)), n(per(g.get(kind)?.count ?? 0)), n(per(b.get(kind)?.count ?? 0))]
      }),
    ),
    '',
    `gateway ÷ bare ws per idle connection: ${formatRatio(gatewayTotal, bareTotal)} (heap: ${n(gatewayTotal)} vs ${n(bareTotal)} bytes)`,
    '',
    `RSS per idle connection, VmRSS after a forced full GC, with ${n(connections)} connections minus before any (noisy: allocator and page granularity, not only live objects):`,
    rssLine('gateway', gateway, gatewayPid),
    rssLine('bare ws', bare, barePid),
    '',
  ]
}

const port = await freePort()
const mongo = await startServerProcess({ command: process.execPath, args: [await compiled(ROOT, 'src/embedded/cli.ts'), '--port', String(port)], cwd: ROOT, readyPattern: /(mongodb:\/\/\S+)/ })
const gateway = await startGateway({ mongodbUri: mongo.ready[1], connections, root })
const clients = await startWorker({ file: await compiled(ROOT, 'bench/fanout/clients.ts') })
const lines: string[] = []
let gatewayIdle: IdleMeasurement
try {
  const tokens = await Promise.all(layout.tenants.map((t) => gateway.sign(t)))
  gatewayIdle = await measureIdle(gateway, () =>
    clients.request('connect', { url: gateway.url.replace(/^http/, 'ws'), layout, tokens, concurrency: 50 }, 120_000),
  )
  await clients.request('subscribe')
  await waitForSubscribers(gateway, layout.subscriptions)
  const subscribed = byKind(await gateway.heapSnapshot())
  lines.push(
    `gateway: \`${gateway.command}\`; self sizes after a full GC`,
    '',
    ...section(`Gateway heap per idle connection (${n(connections)} connections, connection_init acknowledged)`, gatewayIdle.empty, gatewayIdle.connected, 'connection', connections),
    ...section(`Gateway heap per subscription (${n(layout.subscriptions)} subscriptions on ${n(connections)} connections)`, gatewayIdle.connected, subscribed, 'subscription', layout.subscriptions),
  )
} finally {
  await clients.stop()
  await gateway.stop()
  await mongo.stop()
}
// The gateway's output as before, printed before the baseline runs.
process.stdout.write(`${lines.join('\n')}\n`)

// The baseline runs once the gateway and MongoDB have exited, so neither competes with it for the machine.
if (withBare) {
  const bare = await startBareServer()
  const bareClients = await startWorker({ file: await compiled(ROOT, 'bench/fanout/clients.ts') })
  try {
    // bare-server.ts acknowledges any connection_init: tokens are not checked.
    const tokens = layout.tenants.map(() => 'unused')
    const bareIdle = await measureIdle(bare, () => bareClients.request('connect', { url: bare.url, layout, tokens, concurrency: 50 }, 120_000))
    process.stdout.write(`${baselineSection(gatewayIdle, bareIdle, bare.command, gateway.pid, bare.pid).join('\n')}\n`)
  } finally {
    await bareClients.stop()
    await bare.stop()
  }
}
