/**
 * Reads a V8 `.cpuprofile` (as written by `node --cpu-prof`) into the functions that used the most CPU:
 * self time (samples in the function itself) and total time (samples with the function anywhere on the stack).
 */
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/** A V8 `.cpuprofile` as `node --cpu-prof` writes it (the parts read here). */
export interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: readonly number[]
}

export interface Profile {
  readonly nodes: readonly ProfileNode[]
  readonly startTime: number
  readonly endTime: number
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

export interface FrameTime {
  /** `function (file:line)`; the 1-based line of the code V8 ran, left out where V8 reports none (or transpiled code sits on one line). */
  readonly frame: string
  readonly selfMs: number
  readonly totalMs: number
}

export interface ProfileSummary {
  readonly sampledMs: number
  /** Time in V8's (idle) and (garbage collector) pseudo-frames. */
  readonly idleMs: number
  readonly gcMs: number
  readonly bySelf: FrameTime[]
  readonly byTotal: FrameTime[]
}

function frameName(node: ProfileNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame
  const name = functionName || '(anonymous)'
  if (!url) return name
  let file = url
  try {
    file = url.startsWith('file:') ? relative(root, fileURLToPath(url)) : url
  } catch {
    // Keep the URL as it is.
  }
  return lineNumber > 0 ? `${name} (${file}:${lineNumber + 1})` : `${name} (${file})`
}

export function summarizeCpuProfile(path: string, options: { top?: number; root?: string } = {}): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const root = options.root ?? process.cwd()
  const top = options.top ?? 15
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const selfUs = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  let sampled = 0
  let idle = 0
  let gc = 0
  for (const [id, us] of selfUs) {
    sampled += us
    const node = byId.get(id)!
    const fn = node.callFrame.functionName
    if (fn === '(idle)') idle += us
    if (fn === '(garbage collector)') gc += us
    const name = frameName(node, root)
    self.set(name, (self.get(name) ?? 0) + us)
    // Each frame counts once per sample, however often it recurs on the stack.
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = frameName(byId.get(at)!, root)
      if (seen.has(frame)) continue
      seen.add(frame)
      total.set(frame, (total.get(frame) ?? 0) + us)
    }
  }
  const rank = (times: Map<string, number>) =>
    [...times.entries()]
      .filter(([frame]) => frame !== '(root)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame]) => ({ frame, selfMs: (self.get(frame) ?? 0) / 1000, totalMs: (total.get(frame) ?? 0) / 1000 }))
  return { sampledMs: sampled / 1000, idleMs: idle / 1000, gcMs: gc / 1000, bySelf: rank(self), byTotal: rank(total) }
}
