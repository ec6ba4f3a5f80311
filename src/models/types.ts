/**
 * The configuration file (DESIGN §8): the models a gateway serves and the identity provider it trusts. Every key
 * here is recognised; any other key is an error at start.
 */

/** A scalar spelled as in GraphQL: `String`, `Int!`, `[String!]`, `[ObjectId!]!` … */
export type ScalarTypeName = 'String' | 'Int' | 'Float' | 'Boolean' | 'ID' | 'ObjectId' | 'DateTime' | 'JSON'
export type ScalarFieldSpec = string

export interface ShapeOptions {
  /** Non-null in GraphQL (`!`). Default false. */
  readonly required?: boolean
  /** A list of these (`[T!]`). Default false. */
  readonly list?: boolean
  /** GraphQL type name; default `<Model><Field>` (singular for lists: `items` → `OrderItem`). */
  readonly typeName?: string
  readonly description?: string
}

/** An enum: GraphQL value → stored value. */
export interface EnumFieldSpec extends ShapeOptions {
  readonly enum: Readonly<Record<string, string | number>>
}

/** A nested object with fields of its own (type `<Model><Field>`). */
export interface ObjectFieldSpec extends ShapeOptions {
  readonly object: Readonly<Record<string, FieldSpec>>
}

export type FieldSpec = ScalarFieldSpec | EnumFieldSpec | ObjectFieldSpec

export const COMPARISON_OPS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'notIn', 'exists', 'contains', 'containsAny', 'isEmpty'] as const
/** Shorthand operators: a comparison on a field, or one of the change tests. */
export const SHORTHAND_OPS = [...COMPARISON_OPS, 'changedTo', 'changed', 'changedNames'] as const
export type ShorthandOp = (typeof SHORTHAND_OPS)[number]

export interface ShorthandSpec {
  /**
   * The field it constrains (dotted for nested fields; `id` watches one document). `changedTo`: updates that set
   * the field to one of the values (and replaces whose new value is one). Not used by `changed` (a list of the
   * model's field enum) and `changedNames` (a list of top-level field names).
   */
  readonly field?: string
  readonly op: ShorthandOp
  readonly description?: string
}

export interface RelationSpec {
  /** The related model's type name. */
  readonly model: string
  /** The field of this model holding the related document's id. */
  readonly field: string
}

export interface ModelSpec {
  /** Collection in MONGODB_DB. */
  readonly collection: string
  /** Dotted path of the tenant in the document; null = not tenant-scoped (every authenticated caller sees it). */
  readonly tenantField: string | null
  /** Exposed fields; `id` (from `_id`) is implicit. */
  readonly fields: Readonly<Record<string, FieldSpec>>
  /** Fields usable in `where` (dotted paths into objects); default: every scalar and enum field. */
  readonly filterable?: readonly string[]
  readonly relations?: Readonly<Record<string, RelationSpec>>
  /** Flat filter arguments on the change filter (and, for document comparisons, the list query's `filter`). */
  readonly shorthands?: Readonly<Record<string, ShorthandSpec>>
  /** What `_id` holds: `ObjectId` (id arguments must be 24-hex) or `String`. Default `ObjectId`. */
  readonly idType?: 'ObjectId' | 'String'
  /**
   * Also accept the document-filter shorthands as a flat `filter: <Model>Filter` argument on the list query
   * (before `first`). Default false.
   */
  readonly listFilter?: boolean
  /** Subscription field name; default camelCase(type) + 'Changed'. */
  readonly subscription?: string
  /** List query name; default camelCase plural. */
  readonly list?: string
  /** Names of generated types where the defaults do not fit. */
  readonly names?: {
    /** Default `<Model>ChangeFilter`. */
    readonly changeFilter?: string
    /** Default `<Model>Field`. */
    readonly fieldEnum?: string
  }
  readonly description?: string
}

export interface AuthSpec {
  /** JWKS endpoint of the identity provider (RS256, ES256, EdDSA keys); absent = HS256 with CHANGEGATE_JWT_SECRET. */
  readonly jwksUrl?: string
  readonly issuer?: string
  readonly audience?: string | readonly string[]
  /** Claim names or dotted paths. Defaults: `sub`, `tenant`, `scope`. */
  readonly claims?: { readonly sub?: string; readonly tenant?: string; readonly scope?: string }
}

export interface ChangegateConfig {
  readonly models: Readonly<Record<string, ModelSpec>>
  readonly auth?: AuthSpec
}

/** Identity function that gives a configuration file editor types. */
export function defineConfig<const T extends ChangegateConfig>(config: T): T {
  return config
}
