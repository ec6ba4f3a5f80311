/**
 * `updateDescription` of an update event, computed from the document before and after the write the way
 * MongoDB's delta ($v: 2) oplog entries describe it, then read back in the order the server's change stream
 * diff parser reports it: at each level updated and inserted fields, then removed fields, then nested levels.
 *
 * - Embedded documents are compared field by field and changes are reported as dotted paths (`a.b`), as a
 *   `$set`/`$unset` of that path reports them.
 * - Arrays are compared element by element: changed or appended elements are `arr.N`, a shorter array adds
 *   `truncatedArrays: [{ field, newSize }]`. When that description would be larger than the array itself the
 *   whole array is reported as one updated field, as the server's diff does.
 * - A field whose type changed, or that moved because fields before it were added or removed, is reported
 *   with its whole new value.
 */
import { calculateObjectSize, type Document } from 'bson'
import { isPlainObject } from '../bson-values.js'
import { bsonIdentical } from './bson-compare.js'

export interface UpdateDescription {
  updatedFields: Document
  removedFields: string[]
  truncatedArrays: Array<{ field: string; newSize: number }>
  /**
   * For each reported path that reads two ways (a field name that looks like an array index, or that holds a
   * dot), its components: field names as strings, array indexes as numbers. Streams opened with
   * showExpandedEvents report it, as MongoDB 7.0 does.
   */
  disambiguatedPaths: Document
}

type Part = string | number

const isAmbiguousName = (part: Part) => typeof part === 'string' && (/^\d+$/.test(part) || part.includes('.'))

interface DocDiff {
  readonly kind: 'doc'
  readonly updates: Array<[string, unknown]>
  readonly inserts: Array<[string, unknown]>
  readonly deletes: string[]
  readonly subDiffs: Array<[string, Diff]>
  size: number
}

interface ArrayDiff {
  readonly kind: 'array'
  /** Ascending by index. */
  readonly entries: Array<[number, { value: unknown } | { diff: Diff }]>
  resize: number | undefined
  size: number
}

type Diff = DocDiff | ArrayDiff

// Approximate BSON sizes, as the server's diff builder counts them.
const EMPTY_DOC_DIFF = 5
const EMPTY_ARRAY_DIFF = 9
const SECTION_WRAPPING = 8
const RESIZE_ENTRY = 7

/** BSON size of a value as an element's payload. */
const valueSize = (v: unknown) => calculateObjectSize({ v }) - 8

const definedKeys = (d: Document) => Object.keys(d).filter((k) => d[k] !== undefined)

function docDiff(pre: Document, post: Document): DocDiff {
  const diff: DocDiff = { kind: 'doc', updates: [], inserts: [], deletes: [], subDiffs: [], size: EMPTY_DOC_DIFF }
  const preKeys = definedKeys(pre)
  const postKeys = definedKeys(post)
  const pendingDeletes = new Set<string>()
  let i = 0
  let j = 0
  while (i < preKeys.length && j < postKeys.length) {
    const name = preKeys[i]
    if (name !== postKeys[j]) {
      // Not at this position in the new document: removed, unless it shows up later (then it is inserted).
      pendingDeletes.add(name)
      i++
      continue
    }
    const before = pre[name]
    const after = post[name]
    i++
    j++
    if (bsonIdentical(before, after)) continue
    if (isPlainObject(before) && isPlainObject(after)) addSubDiff(diff, name, docDiff(before, after))
    else if (Array.isArray(before) && Array.isArray(after)) {
      const sub = arrayDiff(before, after)
      if (sub) addSubDiff(diff, name, sub)
      else addUpdate(diff, diff.updates, name, after)
    } else addUpdate(diff, diff.updates, name, after)
  }
  for (; i < preKeys.length; i++) addDelete(diff, preKeys[i])
  for (; j < postKeys.length; j++) {
    addUpdate(diff, diff.inserts, postKeys[j], post[postKeys[j]])
    pendingDeletes.delete(postKeys[j])
  }
  for (const name of [...pendingDeletes].sort()) addDelete(diff, name)
  return diff
}

function addUpdate(diff: DocDiff, section: Array<[string, unknown]>, name: string, value: unknown) {
  if (section.length === 0) diff.size += SECTION_WRAPPING
  section.push([name, value])
  diff.size += name.length + 2 + valueSize(value)
}

function addDelete(diff: DocDiff, name: string) {
  if (diff.deletes.length === 0) diff.size += SECTION_WRAPPING
  diff.deletes.push(name)
  diff.size += name.length + 3
}

function addSubDiff(diff: DocDiff, name: string, sub: Diff) {
  diff.subDiffs.push([name, sub])
  diff.size += name.length + 3 + sub.size
}

/** The element-wise diff, or undefined when replacing the whole array is smaller. */
function arrayDiff(pre: unknown[], post: unknown[]): ArrayDiff | undefined {
  const diff: ArrayDiff = { kind: 'array', entries: [], resize: undefined, size: EMPTY_ARRAY_DIFF }
  const add = (index: number, entry: { value: unknown } | { diff: Diff }) => {
    diff.entries.push([index, entry])
    diff.size += 3 + String(index).length + ('diff' in entry ? entry.diff.size : valueSize(entry.value))
  }
  const common = Math.min(pre.length, post.length)
  for (let i = 0; i < common; i++) {
    const before = pre[i]
    const after = post[i]
    if (bsonIdentical(before, after)) continue
    if (isPlainObject(before) && isPlainObject(after)) add(i, { diff: docDiff(before, after) })
    else if (Array.isArray(before) && Array.isArray(after)) {
      const sub = arrayDiff(before, after)
      add(i, sub ? { diff: sub } : { value: after })
    } else add(i, { value: after })
  }
  for (let i = common; i < post.length; i++) add(i, { value: post[i] })
  if (pre.length > post.length) {
    diff.resize = post.length
    diff.size += RESIZE_ENTRY
  }
  return valueSize(post) > diff.size ? diff : undefined
}

/** The `updateDescription` of an update that turned `before` into `after`. */
export function describeUpdate(before: Document, after: Document): UpdateDescription {
  const out: UpdateDescription = { updatedFields: {}, removedFields: [], truncatedArrays: [], disambiguatedPaths: {} }
  report(docDiff(before, after), [], out)
  return out
}

function report(diff: Diff, parts: Part[], out: UpdateDescription) {
  const path = (last?: Part) => {
    const all = last === undefined ? parts : [...parts, last]
    const joined = all.join('.')
    if (all.some(isAmbiguousName)) out.disambiguatedPaths[joined] = all
    return joined
  }
  if (diff.kind === 'doc') {
    for (const [name, value] of diff.updates) out.updatedFields[path(name)] = value
    for (const [name, value] of diff.inserts) out.updatedFields[path(name)] = value
    for (const name of diff.deletes) out.removedFields.push(path(name))
    for (const [name, sub] of diff.subDiffs) report(sub, [...parts, name], out)
    return
  }
  if (diff.resize !== undefined) out.truncatedArrays.push({ field: path(), newSize: diff.resize })
  for (const [index, entry] of diff.entries) {
    if ('diff' in entry) report(entry.diff, [...parts, index], out)
    else out.updatedFields[path(index)] = entry.value
  }
}
