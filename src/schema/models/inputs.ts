import type { EnumField, Model, ModelRegistry, ResolvedField, ResolvedShorthand } from '../../models/index.js'
import { whereTree, type WhereNode } from '../../models/where-tree.js'
import { comparisonOps } from '../../streams/filters/comparisons.js'
import { isDocumentShorthand } from '../../streams/filters/compiler.js'
import type { Builder } from '../builder.js'
import type { CommonTypes } from '../types/common.js'
import type { ModelTypes } from './outputs.js'

/** The input types of every configured model: comparisons, `<Model>Where`, `<Model>Field`, the change filter. */
export interface ModelInputs {
  changeFilter(model: Model): never
  where(model: Model): never
  listFilter(model: Model): never | undefined
}

const SCALAR_INPUTS = { String: 'String', Int: 'Int', Float: 'Float', Boolean: 'Boolean', ID: 'ID', ObjectId: 'ID', DateTime: 'DateTime', JSON: 'JSON' } as const

const OP_DESCRIPTIONS: Readonly<Record<string, string>> = {
  eq: 'Equal to',
  ne: 'Not equal to (also true where the field is missing)',
  gt: 'Greater than',
  gte: 'Greater than or equal to',
  lt: 'Less than',
  lte: 'Less than or equal to',
  in: 'One of these (1–100 values)',
  notIn: 'None of these (1–100 values)',
  exists: 'true: the field is present; false: it is missing',
  contains: 'The list contains this value',
  containsAny: 'The list contains at least one of these (1–100 values)',
  isEmpty: 'true: the list is empty; false: it has at least one element',
}

export function addModelInputs(builder: Builder, registry: ModelRegistry, types: ModelTypes, common: CommonTypes): ModelInputs {
  const comparisons = new Map<string, unknown>()
  const wheres = new Map<string, unknown>()
  const changeFilters = new Map<Model, unknown>()
  const listFilters = new Map<Model, unknown>()
  const fieldEnums = new Map<Model, unknown>()

  /** The element type of a field as an input (ObjectId as ID, enums as their enum). */
  const elementType = (field: ResolvedField): unknown =>
    field.kind === 'enum' ? types.enumOf(field as EnumField) : field.kind === 'scalar' ? SCALAR_INPUTS[field.scalar] : undefined

  const comparisonFor = (field: ResolvedField): unknown => {
    const element = field.kind === 'enum' ? field.typeName : field.kind === 'scalar' ? (field.scalar === 'ObjectId' ? 'ID' : field.scalar) : ''
    const name = `${element}${field.list ? 'List' : ''}Comparison`
    let ref = comparisons.get(name)
    if (ref) return ref
    const ops = comparisonOps(field)
    const type = elementType(field)
    ref = builder.inputType(name, {
      description: `Comparisons on a${field.list ? ' list of' : ''} ${element} field; every operator given must hold`,
      fields: (t) =>
        Object.fromEntries(
          ops.map((op) => {
            const description = OP_DESCRIPTIONS[op]
            if (op === 'exists' || op === 'isEmpty') return [op, t.boolean({ required: false, description })]
            if (op === 'in' || op === 'notIn' || op === 'containsAny') {
              return [op, t.field({ type: [type] as never, required: { list: false, items: true } as never, description })]
            }
            return [op, t.field({ type: type as never, required: false, description })]
          }),
        ) as never,
    })
    comparisons.set(name, ref)
    return ref
  }

  const whereInput = (name: string, nodes: readonly WhereNode[], logical: boolean, description: string): unknown => {
    const existing = wheres.get(name)
    if (existing) return existing
    const ref = builder.inputRef<Record<string, unknown>>(name)
    wheres.set(name, ref)
    ref.implement({
      description,
      fields: (t) => {
        const fields: Record<string, unknown> = {}
        for (const node of nodes) {
          fields[node.name] =
            node.kind === 'comparison'
              ? t.field({ type: comparisonFor(node.field) as never, required: false, description: `Conditions on \`${node.field.path}\`` })
              : t.field({
                  type: whereInput(`${node.field.typeName}Where`, node.children, false, `Conditions on the nested \`${node.field.path}\`${node.field.list ? ' (true when any element matches)' : ''}`) as never,
                  required: false,
                  description: `Conditions on \`${node.field.path}\``,
                })
        }
        if (logical) {
          fields.AND = t.field({ type: [ref] as never, required: { list: false, items: true } as never, description: 'All of these hold' })
          fields.OR = t.field({ type: [ref] as never, required: { list: false, items: true } as never, description: 'At least one of these holds' })
          fields.NOT = t.field({ type: ref as never, required: false, description: 'This does not hold' })
        }
        return fields as never
      },
    })
    return ref
  }

  const shorthandType = (model: Model, s: ResolvedShorthand): { type: unknown; list: boolean } => {
    if (s.op === 'changed') return { type: fieldEnums.get(model), list: true }
    if (s.op === 'changedNames') return { type: 'String', list: true }
    if (s.op === 'exists' || s.op === 'isEmpty') return { type: 'Boolean', list: false }
    const element = s.field === 'id' ? 'ID' : elementType(s.field!)
    return { type: element, list: ['in', 'notIn', 'containsAny', 'changedTo'].includes(s.op) }
  }

  const shorthandField = (t: { field(o: object): unknown }, model: Model, s: ResolvedShorthand) => {
    const { type, list } = shorthandType(model, s)
    return t.field({
      type: (list ? [type] : type) as never,
      required: (list ? { list: false, items: true } : false) as never,
      description: s.description ?? shorthandDescription(s),
    })
  }

  for (const model of registry.models) {
    fieldEnums.set(
      model,
      builder.enumType(model.names.fieldEnum, {
        description: `Top-level fields of ${model.names.type}, for "only changes touching these fields"`,
        values: Object.fromEntries(model.fieldEnum.map((v) => [v.name, { value: v.name, description: `The field \`${v.stored}\`` }])) as Record<
          string,
          { value: string }
        >,
      }),
    )
    const where = whereInput(
      model.names.where,
      whereTree(model),
      true,
      `Conditions on ${model.names.type} documents (MongoDB semantics). Fields combine with AND; nest at most 5 levels and 50 comparisons`,
    )
    changeFilters.set(
      model,
      builder.inputType(model.names.changeFilter, {
        description: `Which changes of ${model.names.type} to deliver. Omitted fields mean no constraint; an empty list is BAD_USER_INPUT. Document conditions (\`where\` and the document shorthands) decide the transition: ENTERED, UPDATED or LEFT`,
        fields: (t) => {
          const fields: Record<string, unknown> = {
            operationTypes: t.field({
              type: [common.OperationType],
              required: { list: false, items: true },
              description: 'Only these kinds of writes',
            }),
          }
          for (const s of model.shorthands) fields[s.name] = shorthandField(t as never, model, s)
          fields.id = t.id({ required: false, description: `Only changes of this one document (its id${model.idType === 'ObjectId' ? ', 24-hex' : ''})` })
          fields.where = t.field({ type: where as never, required: false, description: 'Document filter: which documents the subscription follows' })
          fields.changed = t.field({
            type: [fieldEnums.get(model)] as never,
            required: { list: false, items: true } as never,
            description: 'Only updates touching one of these fields, and replaces (which touch every field)',
          })
          return fields as never
        },
      }),
    )
    const documentShorthands = model.shorthands.filter(isDocumentShorthand)
    if (model.listFilter && documentShorthands.length > 0) {
      listFilters.set(
        model,
        builder.inputType(model.names.listFilter, {
          description: `Flat document conditions on ${model.names.type}; they combine with AND`,
          fields: (t) => Object.fromEntries(documentShorthands.map((s) => [s.name, shorthandField(t as never, model, s)])) as never,
        }),
      )
    }
  }

  return {
    changeFilter: (model) => changeFilters.get(model) as never,
    where: (model) => wheres.get(model.names.where) as never,
    listFilter: (model) => listFilters.get(model) as never,
  }
}

function shorthandDescription(s: ResolvedShorthand): string {
  if (s.op === 'changed') return 'Only updates touching one of these fields, and replaces'
  if (s.op === 'changedNames') return 'Only updates touching one of these top-level fields (stored names), and replaces'
  const path = s.field === 'id' ? 'the document id' : `\`${s.field!.path}\``
  if (s.op === 'changedTo') return `Only updates setting ${path} to one of these, and replaces whose new value is one of these`
  return `Document filter: ${path} — ${OP_DESCRIPTIONS[s.op].toLowerCase()}`
}
