import type { Document } from 'mongodb'
import { badUserInput } from '../../errors.js'
import { whereTree, type WhereNode } from '../../models/where-tree.js'
import type { Model } from '../../models/index.js'
import { listArgument, ownArguments } from './arguments.js'
import { combineClauses, compileComparison, type Budget } from './comparisons.js'

/** `where` nests at most this many levels (AND/OR/NOT and nested objects alike), DESIGN §8. */
export const MAX_WHERE_DEPTH = 5

/**
 * A model's `where` input → a query on the document (no tenant): the document filter that decides ENTERED,
 * UPDATED and LEFT. Keys are walked in the model's declaration order, so equal inputs compile to equal bytes.
 */
export function compileWhere(model: Model, where: unknown, budget: Budget = { comparisons: 0 }, arg = 'where'): Document {
  return combineClauses(whereClauses(whereTree(model), '', where, arg, 1, budget, true))
}

/**
 * Clauses of one where level. `root`: the model's own level, the only one with AND/OR/NOT. The fields of a list of
 * objects compile relative to one element, under `$elemMatch`: their conditions must hold for the same element.
 */
function whereClauses(
  nodes: readonly WhereNode[],
  prefix: string,
  where: unknown,
  arg: string,
  depth: number,
  budget: Budget,
  root: boolean,
): Document[] {
  if (where === null || where === undefined) return []
  if (typeof where !== 'object' || Array.isArray(where)) throw badUserInput(`${arg} must be an object`)
  if (depth > MAX_WHERE_DEPTH) throw badUserInput(`where must nest at most ${MAX_WHERE_DEPTH} levels`)
  const input = ownArguments(where)
  const known = new Set(nodes.map((n) => n.name))
  for (const key of Object.keys(input)) {
    if (!known.has(key) && !(root && (key === 'AND' || key === 'OR' || key === 'NOT'))) {
      throw badUserInput(`${arg}.${key} is not a filterable field`)
    }
  }
  const clauses: Document[] = []
  for (const node of nodes) {
    const value = input[node.name]
    if (value === undefined || value === null) continue
    const path = prefix ? `${prefix}.${node.name}` : node.name
    const at = `${arg}.${node.name}`
    if (node.kind === 'comparison') clauses.push(...compileComparison(node.field, path, value, at, budget))
    else if (!node.field.list) clauses.push(...whereClauses(node.children, path, value, at, depth + 1, budget, false))
    else {
      const element = combineClauses(whereClauses(node.children, '', value, at, depth + 1, budget, false))
      if (Object.keys(element).length > 0) clauses.push({ [path]: { $elemMatch: element } })
    }
  }
  if (!root) return clauses
  const nested = (w: unknown, at: string) => combineClauses(whereClauses(nodes, '', w, at, depth + 1, budget, true))
  for (const logical of ['AND', 'OR'] as const) {
    const list = listArgument(`${arg}.${logical}`, input[logical])
    if (!list) continue
    const queries = list.map((w, n) => nested(w, `${arg}.${logical}[${n}]`))
    clauses.push({ [logical === 'AND' ? '$and' : '$or']: queries })
  }
  if (input.NOT !== undefined && input.NOT !== null) clauses.push({ $nor: [nested(input.NOT, `${arg}.NOT`)] })
  return clauses
}
