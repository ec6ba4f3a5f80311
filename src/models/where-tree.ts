import type { ObjectField, ResolvedField } from './field-types.js'
import type { Model } from './registry.js'

/** One key of a `<Model>Where` input: a comparison on a field, or a nested object's own where. */
export type WhereNode =
  | { readonly kind: 'comparison'; readonly name: string; readonly field: ResolvedField }
  | { readonly kind: 'object'; readonly name: string; readonly field: ObjectField; readonly children: readonly WhereNode[] }

const trees = new WeakMap<Model, readonly WhereNode[]>()

/** The keys of a model's `where` (its filterable fields, nested objects as nested inputs), in declaration order. */
export function whereTree(model: Model): readonly WhereNode[] {
  let tree = trees.get(model)
  if (!tree) {
    tree = build(model.fields, model.filterable)
    trees.set(model, tree)
  }
  return tree
}

function build(fields: readonly ResolvedField[], filterable: ReadonlyMap<string, ResolvedField>): WhereNode[] {
  const nodes: WhereNode[] = []
  for (const field of fields) {
    if (filterable.has(field.path)) nodes.push({ kind: 'comparison', name: field.name, field })
    else if (field.kind === 'object') {
      const children = build(field.fields, filterable)
      if (children.length > 0) nodes.push({ kind: 'object', name: field.name, field, children })
    }
  }
  return nodes
}
