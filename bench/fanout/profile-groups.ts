/**
 * Self time of a V8 `.cpuprofile` by the layer it belongs to (GraphQL execution, graphql-ws, socket writes, GC, …):
 * where a delivery's cost goes, at a coarser grain than single functions.
 */
import { readFileSync } from 'node:fs'
import { markdownTable } from '../lib/markdown.js'
import { formatNumber as n } from '../lib/stats.js'

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string }
}

interface Profile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

/** First matching rule names the layer; order matters. */
const LAYERS: ReadonlyArray<readonly [string, (fn: string, url: string) => boolean]> = [
  ['idle', (fn) => fn === '(idle)'],
  ['garbage collection', (fn) => fn === '(garbage collector)'],
  ['socket writes (native writev)', (fn, url) => !url && ['writev', 'writeBuffer', 'writeUtf8String'].includes(fn)],
  [
    'GraphQL execution per subscriber (graphql-js, @graphql-tools/executor, envelop, promise helpers, schema resolvers)',
    (_fn, url) => /node_modules\/(@graphql-tools|graphql\/|@envelop|@whatwg-node|graphql-yoga|@pothos)/.test(url) || url.includes('/src/schema/'),
  ],
  ['graphql-ws protocol', (_fn, url) => url.includes('node_modules/graphql-ws/')],
  ['ws + node streams (JS side of writes)', (_fn, url) => url.includes('node_modules/ws/') || /^node:(internal\/streams|internal\/stream_base|net)/.test(url)],
  ['driver + BSON (reading the change stream)', (_fn, url) => /node_modules\/(mongodb|bson)\//.test(url) || url.includes('/src/mongo/')],
  ['gateway streams (dispatch, filters, queues, mingo)', (_fn, url) => url.includes('node_modules/mingo/') || url.includes('/src/streams/')],
  ['gateway server and other src/', (_fn, url) => url.includes('/src/')],
  ['microtask queue (self)', (fn) => fn === 'runMicrotasks'],
]

/** The layer a sample's own frame belongs to. */
export function layerOf(functionName: string, url: string): string {
  return LAYERS.find(([, test]) => test(functionName, url))?.[0] ?? 'other (node internals, start-up, metrics)'
}

export function renderProfileLayers(path: string): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const byLayer = new Map<string, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const { functionName, url } = nodes.get(profile.samples[i])!.callFrame
    const layer = layerOf(functionName, url)
    byLayer.set(layer, (byLayer.get(layer) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const idle = byLayer.get('idle') ?? 0
  byLayer.delete('idle')
  const busy = [...byLayer.values()].reduce((a, b) => a + b, 0)
  const rows = [...byLayer.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([layer, us]) => [layer, n(us / 1000), `${n((100 * us) / busy)}%`])
  return [
    `Gateway self time by layer: ${n(busy / 1000)} ms busy, ${n(idle / 1000)} ms idle (samples are wall-clock intervals of the main thread)`,
    '',
    markdownTable(['layer', 'self ms', 'share of busy'], rows),
  ].join('\n')
}
