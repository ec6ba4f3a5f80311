/**
 * A fast path for the most common operator updates (`$set`, `$unset`, `$inc` on plain dotted paths through
 * embedded documents). It copies only the objects along the changed paths; everything else is shared with
 * the previous (immutable) version. Anything unusual returns undefined and goes through mingo.
 */
import type { Document } from 'bson'
import { canonicalKey, isPlainObject } from '../bson-values.js'

const FAST_OPERATORS = new Set(['$set', '$unset', '$inc'])

type Step = { readonly op: '$set' | '$unset' | '$inc'; readonly path: string[]; readonly value: unknown }

function plan(ops: Document): Step[] | undefined {
  const steps: Step[] = []
  const seen: string[] = []
  for (const op in ops) {
    if (!FAST_OPERATORS.has(op)) return undefined
    const fields = ops[op] as Document
    for (const dotted in fields) {
      // `_id` is immutable: the general engine reports changes to it.
      if (dotted === '_id' || dotted.startsWith('_id.')) return undefined
      if (dotted === '' || dotted.includes('$') || dotted.includes('__proto__') || dotted.startsWith('.') || dotted.endsWith('.') || dotted.includes('..')) return undefined
      // Overlapping paths are a conflict MongoDB reports; leave that to the general engine.
      for (const other of seen) {
        if (other === dotted || other.startsWith(`${dotted}.`) || dotted.startsWith(`${other}.`)) return undefined
      }
      seen.push(dotted)
      const value = fields[dotted]
      if (op === '$inc' && typeof value !== 'number') return undefined
      steps.push({ op: op as Step['op'], path: dotted.split('.'), value })
    }
  }
  return steps
}

const sameValue = (a: unknown, b: unknown) =>
  a === b ||
  (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && Object.getPrototypeOf(a) === Object.getPrototypeOf(b) && canonicalKey(a) === canonicalKey(b))

/**
 * Applies `ops` to `doc` without touching it. Returns the new document, `doc` itself when nothing changed,
 * or undefined when the update needs the general engine.
 */
export function fastUpdate(doc: Document, ops: Document): Document | undefined {
  const steps = plan(ops)
  if (!steps) return undefined
  let root: Document | undefined
  for (const step of steps) {
    const source: Document = root ?? doc
    let parentOld: unknown = source
    // Find the existing value and make sure every parent on the path is a plain object (or missing).
    for (let i = 0; i < step.path.length - 1; i++) {
      parentOld = isPlainObject(parentOld) ? parentOld[step.path[i]] : undefined
      if (parentOld !== undefined && !isPlainObject(parentOld)) return undefined
    }
    const leaf = step.path[step.path.length - 1]
    const present = isPlainObject(parentOld) && Object.prototype.hasOwnProperty.call(parentOld, leaf)
    const current = present ? (parentOld as Document)[leaf] : undefined
    if (step.op === '$unset') {
      if (!present) continue
    } else if (step.op === '$inc') {
      if (present && typeof current !== 'number') return undefined
    } else if (present && sameValue(current, step.value)) {
      continue
    }
    root ??= { ...doc }
    let at: Document = root
    for (let i = 0; i < step.path.length - 1; i++) {
      const key = step.path[i]
      const next = at[key]
      at[key] = isPlainObject(next) ? { ...next } : {}
      at = at[key] as Document
    }
    if (step.op === '$unset') delete at[leaf]
    else if (step.op === '$inc') at[leaf] = ((current as number | undefined) ?? 0) + (step.value as number)
    else at[leaf] = step.value
  }
  return root ?? doc
}
