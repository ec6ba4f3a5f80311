/**
 * What holds the gateway's event loop in its longest blocks (issue 11, aim 3), from a V8 `.cpuprofile`.
 *
 * A block is a run of consecutive samples, none of them idle, under the same entry frame (the child of `(root)`:
 * `processImmediate` for the check phase, `processTimers`, `(garbage collector)`, an I/O callback): as long as one
 * block runs, no timer fires and no socket is read, which is what `monitorEventLoopDelay` sees as delay. Samples are
 * ~1 ms apart, so a block is known to about a millisecond.
 *
 *   npx tsx bench/fanout/profile-stalls.ts <file.cpuprofile> [--over 50] [--last S]
 *
 * `--last S` looks at the profile's last S seconds only (the measured phase, without start-up and subscribing).
 */
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import type { Profile, ProfileNode } from '../lib/cpu-profile.js'
import { markdownTable } from '../lib/markdown.js'
import { formatNumber as n } from '../lib/stats.js'
import { layerOf } from './profile-groups.js'

interface Block {
  readonly entry: string
  readonly startUs: number
  us: number
  readonly byLayer: Map<string, number>
  readonly byFrame: Map<string, number>
}

const shortName = (node: ProfileNode) => {
  const { functionName, url, lineNumber } = node.callFrame
  const file = url.replace(/^.*\/(node_modules\/[^/]+|src|\.bench-out\/compiled\/src)\//, '$1/')
  return `${functionName || '(anonymous)'}${url ? ` (${file}:${lineNumber + 1})` : ''}`
}

const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us)

function blocksOf(profile: Profile): Block[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const entryOf = (id: number): ProfileNode => {
    let at = id
    for (;;) {
      const up = parent.get(at)
      if (up === undefined || parent.get(up) === undefined) return byId.get(at)!
      at = up
    }
  }
  const blocks: Block[] = []
  let current: Block | undefined
  let clock = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i] ?? 0
    clock += us
    const node = byId.get(profile.samples[i])!
    const { functionName, url } = node.callFrame
    if (functionName === '(idle)') {
      current = undefined
      continue
    }
    const entry = shortName(entryOf(node.id))
    if (!current || current.entry !== entry) {
      current = { entry, startUs: clock - us, us: 0, byLayer: new Map(), byFrame: new Map() }
      blocks.push(current)
    }
    current.us += us
    add(current.byLayer, layerOf(functionName, url), us)
    add(current.byFrame, shortName(node), us)
  }
  return blocks
}

const top = (map: Map<string, number>, count: number) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, us]) => `${key} ${n(us / 1000)}`)
    .join('; ')

/** The blocks over `overMs`: how many, what they spent their time on, and the longest ones. */
export function renderStalls(path: string, overMs = 50, lastSeconds = Infinity): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const all = blocksOf(profile)
  const endUs = profile.timeDeltas.reduce((sum, us) => sum + us, 0)
  const blocks = all.filter((b) => b.startUs >= endUs - lastSeconds * 1e6)
  const long = blocks.filter((b) => b.us >= overMs * 1000).sort((a, b) => b.us - a.us)
  const busyUs = blocks.reduce((sum, b) => sum + b.us, 0)
  const longUs = long.reduce((sum, b) => sum + b.us, 0)
  const byLayer = new Map<string, number>()
  const byEntry = new Map<string, number>()
  for (const block of long) {
    for (const [layer, us] of block.byLayer) add(byLayer, layer, us)
    add(byEntry, block.entry, block.us)
  }
  const lines = [
    `Gateway blocks of ${overMs} ms or more (consecutive busy samples under one entry frame): ${long.length}, ` +
      `${n(longUs / 1000)} ms of ${n(busyUs / 1000)} ms busy; longest ${long.length ? n(long[0].us / 1000) : 0} ms`,
    '',
  ]
  if (long.length === 0) return lines.join('\n')
  lines[0] += Number.isFinite(lastSeconds) ? ` (the profile's last ${lastSeconds} s)` : ''
  lines.push(
    markdownTable(
      ['in those blocks, by layer', 'ms', 'share'],
      [...byLayer.entries()].sort((a, b) => b[1] - a[1]).map(([layer, us]) => [layer, n(us / 1000), `${n((100 * us) / longUs)}%`]),
    ),
    '',
    markdownTable(
      ['entered through', 'blocks', 'ms'],
      [...byEntry.entries()].sort((a, b) => b[1] - a[1]).map(([entry, us]) => [entry, String(long.filter((b) => b.entry === entry).length), n(us / 1000)]),
    ),
    '',
    markdownTable(
      ['longest', 'at s', 'ms', 'entry', 'top self frames (ms)'],
      long.slice(0, 10).map((b, k) => [String(k + 1), n(b.startUs / 1e6), n(b.us / 1000), b.entry, top(b.byFrame, 4)]),
    ),
  )
  return lines.join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, ...flags] = process.argv.slice(2)
  const flag = (name: string, fallback: number) => {
    const at = flags.indexOf(name)
    return at >= 0 ? Number(flags[at + 1]) : fallback
  }
  if (!file) {
    process.stderr.write('usage: npx tsx bench/fanout/profile-stalls.ts <file.cpuprofile> [--over MS] [--last S]\n')
    process.exit(2)
  }
  process.stdout.write(`${renderStalls(file, flag('--over', 50), flag('--last', Infinity))}\n`)
}
