import { describe, expect, it } from 'vitest'
import { ConfigFileError, demoConfig, resolveConfig, type ModelRegistry } from '../../src/models/index.js'
import { buildSchema } from '../../src/schema/index.js'

/** The DESIGN §8 example, completed: Ticket and the Agent its relation points to. */
function ticketConfig() {
  return {
    models: {
      Ticket: {
        collection: 'tickets',
        tenantField: 'orgId',
        fields: {
          orgId: 'String!',
          title: 'String!',
          severity: 'Int',
          open: 'Boolean!',
          assigneeId: 'ObjectId',
          tags: '[String!]',
          dueAt: 'DateTime',
          priority: { enum: { LOW: 'low', HIGH: 'high' } },
          sla: { object: { hours: 'Int', tier: 'String' } },
        } as Record<string, unknown>,
        filterable: ['severity', 'open', 'priority', 'tags', 'assigneeId', 'sla.hours'],
        relations: { assignee: { model: 'Agent', field: 'assigneeId' } } as Record<string, unknown>,
        shorthands: { minSeverity: { field: 'severity', op: 'gte' } } as Record<string, unknown>,
        subscription: 'ticketChanged',
        list: 'tickets',
      } as Record<string, unknown>,
      Agent: {
        collection: 'agents',
        tenantField: 'orgId',
        fields: { orgId: 'String!', name: 'String!', email: 'String' },
      } as Record<string, unknown>,
    } as Record<string, Record<string, unknown>>,
    auth: {
      jwksUrl: 'https://idp.example/.well-known/jwks.json',
      issuer: 'https://idp.example/',
      audience: 'changegate',
      claims: { sub: 'sub', tenant: 'https://example.com/org', scope: 'scope' },
    } as Record<string, unknown>,
  }
}

type TicketConfig = ReturnType<typeof ticketConfig>

/** The example with one change applied to a fresh copy. */
function variant(change: (config: TicketConfig) => void): TicketConfig {
  const config = ticketConfig()
  change(config)
  return config
}

const withTicketField = (name: string, spec: unknown) => variant((c) => (c.models.Ticket.fields as Record<string, unknown>)[name] = spec)
const withShorthand = (spec: unknown) => variant((c) => (c.models.Ticket.shorthands as Record<string, unknown>).pick = spec)

/** The message of the ConfigFileError that resolving `raw` throws. */
function configError(raw: unknown): string {
  try {
    resolveConfig(raw)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigFileError)
    const message = (error as Error).message
    expect(message.split('\n')).toHaveLength(1)
    return message
  }
  throw new Error('expected a ConfigFileError')
}

const fieldNames = (registry: ModelRegistry, model: string) => [...registry.byName(model)!.filterable.keys()]

describe('resolveConfig accepts', () => {
  it('the DESIGN §8 example, with derived names, relation and shorthand resolved', () => {
    const registry = resolveConfig(ticketConfig())
    const ticket = registry.byName('Ticket')!
    expect(ticket.collection).toBe('tickets')
    expect(ticket.tenantField).toBe('orgId')
    expect(ticket.idType).toBe('ObjectId')
    expect(ticket.names).toMatchObject({
      type: 'Ticket',
      single: 'ticket',
      list: 'tickets',
      subscription: 'ticketChanged',
      event: 'TicketChangeEvent',
      changeFilter: 'TicketChangeFilter',
      where: 'TicketWhere',
      fieldEnum: 'TicketField',
    })
    expect(fieldNames(registry, 'Ticket').sort()).toEqual(['assigneeId', 'open', 'priority', 'severity', 'sla.hours', 'tags'])
    expect(ticket.relations.map((r) => [r.name, r.model, r.field.name])).toEqual([['assignee', 'Agent', 'assigneeId']])
    expect(ticket.shorthands.map((s) => [s.name, s.op, typeof s.field === 'object' ? s.field.path : s.field])).toEqual([['minSeverity', 'gte', 'severity']])
    expect(registry.auth).toMatchObject({ issuer: 'https://idp.example/', audience: 'changegate' })
    expect(registry.byCollection('agents')?.names.type).toBe('Agent')
    expect(registry.bySubscription('agentChanged')?.names.type).toBe('Agent')
  })

  it('the built-in demo, with the published names', () => {
    const registry = resolveConfig(demoConfig)
    const order = registry.byName('Order')!
    const user = registry.byName('User')!
    expect([order.names.subscription, order.names.list, order.names.changeFilter]).toEqual(['orderChanged', 'orders', 'OrderChangeFilter'])
    expect([user.names.subscription, user.names.changeFilter, user.names.fieldEnum]).toEqual(['userProfileUpdated', 'UserProfileFilter', 'UserProfileField'])
    expect(order.fields.find((f) => f.name === 'items')).toMatchObject({ kind: 'object', list: true, typeName: 'OrderItem' })
    expect(order.fields.find((f) => f.name === 'status')).toMatchObject({ kind: 'enum', typeName: 'OrderStatus' })
    expect(order.relations.map((r) => r.model)).toEqual(['User'])
  })

  it('a model without tenancy and with string ids', () => {
    const registry = resolveConfig({ models: { Country: { collection: 'countries', tenantField: null, idType: 'String', fields: { name: 'String!' } } } })
    expect(registry.byName('Country')).toMatchObject({ tenantField: null, idType: 'String', names: { list: 'countries', subscription: 'countryChanged' } })
  })
})

describe('derived names and defaults', () => {
  it('plural list names and nested type names', () => {
    const registry = resolveConfig({
      models: {
        Category: { collection: 'categories', tenantField: null, fields: { label: 'String' } },
        Box: { collection: 'boxes', tenantField: null, fields: { label: 'String' } },
        Order: {
          collection: 'orders',
          tenantField: 'tenantId',
          fields: {
            tenantId: 'ID!',
            items: { object: { sku: 'String!' }, list: true },
            categories: { object: { label: 'String' }, list: true },
            shipping: { object: { address: { object: { city: 'String' } } } },
            state: { enum: { OPEN: 'o' }, typeName: 'OrderState2' },
          },
        },
      },
    })
    expect(registry.byName('Category')!.names.list).toBe('categories')
    expect(registry.byName('Box')!.names.list).toBe('boxes')
    const order = registry.byName('Order')!
    const typeNames = Object.fromEntries(order.fields.map((f) => [f.name, f.kind === 'scalar' ? f.scalar : f.typeName]))
    expect(typeNames).toEqual({ tenantId: 'ID', items: 'OrderItem', categories: 'OrderCategory', shipping: 'OrderShipping', state: 'OrderState2' })
    const shipping = order.fields.find((f) => f.name === 'shipping')
    expect(shipping?.kind === 'object' && shipping.fields[0]).toMatchObject({ typeName: 'OrderShippingAddress', path: 'shipping.address' })
  })

  it('the Ticket example names its nested type TicketSla and its enum TicketPriority', () => {
    const ticket = resolveConfig(ticketConfig()).byName('Ticket')!
    expect(ticket.fields.find((f) => f.name === 'sla')).toMatchObject({ kind: 'object', typeName: 'TicketSla' })
    expect(ticket.fields.find((f) => f.name === 'priority')).toMatchObject({
      kind: 'enum',
      typeName: 'TicketPriority',
      values: [
        { name: 'LOW', stored: 'low' },
        { name: 'HIGH', stored: 'high' },
      ],
    })
  })

  it('field type strings: required, lists and required items', () => {
    const ticket = resolveConfig(
      withTicketField('codes', '[Int!]!'),
    ).byName('Ticket')!
    const shape = (name: string) => {
      const f = ticket.fields.find((x) => x.name === name)!
      return [f.list, f.required, f.itemRequired]
    }
    expect(shape('title')).toEqual([false, true, false])
    expect(shape('severity')).toEqual([false, false, false])
    expect(shape('tags')).toEqual([true, false, true])
    expect(shape('codes')).toEqual([true, true, true])
  })

  it('default filterable: every comparable scalar and enum incl. nested ones, not the tenant field, not JSON', () => {
    const registry = resolveConfig(
      variant((c) => {
        delete c.models.Ticket.filterable
        ;(c.models.Ticket.fields as Record<string, unknown>).extra = 'JSON'
      }),
    )
    expect(fieldNames(registry, 'Ticket')).toEqual(['title', 'severity', 'open', 'assigneeId', 'tags', 'dueAt', 'priority', 'sla.hours', 'sla.tier'])
  })

  it('the field enum: CONSTANT_CASE of the top-level fields but the tenant field, with stored names', () => {
    const ticket = resolveConfig(ticketConfig()).byName('Ticket')!
    expect(ticket.fieldEnum).toEqual([
      { name: 'TITLE', stored: 'title' },
      { name: 'SEVERITY', stored: 'severity' },
      { name: 'OPEN', stored: 'open' },
      { name: 'ASSIGNEE_ID', stored: 'assigneeId' },
      { name: 'TAGS', stored: 'tags' },
      { name: 'DUE_AT', stored: 'dueAt' },
      { name: 'PRIORITY', stored: 'priority' },
      { name: 'SLA', stored: 'sla' },
    ])
  })
})

describe('resolveConfig rejects, in one line naming model, field and problem', () => {
  it.each<[string, () => unknown, string]>([
    ['not an object', () => 'models', 'configuration: must be an object with a `models` key'],
    ['no models', () => ({ models: {} }), 'configuration: `models` must declare at least one model'],
    ['an unknown top-level key', () => ({ ...ticketConfig(), plugins: [] }), 'configuration: unknown key "plugins"'],
    ['an unknown model key', () => variant((c) => (c.models.Ticket.colection = 'x')), 'model Ticket: unknown key "colection"'],
    [
      'a model name that is not PascalCase',
      () => variant((c) => (c.models.ticket = c.models.Ticket)),
      'model ticket: model names are GraphQL type names in PascalCase (e.g. Ticket)',
    ],
    ['a missing collection', () => variant((c) => delete c.models.Ticket.collection), 'model Ticket: `collection` must be a collection name'],
    ['a system collection', () => variant((c) => (c.models.Ticket.collection = 'system.views')), 'model Ticket: `collection` must be a collection name'],
    [
      'a missing tenantField',
      () => variant((c) => delete c.models.Ticket.tenantField),
      'model Ticket: `tenantField` is required: a dotted path, or null for a model every caller sees',
    ],
    ['a tenantField that is no path', () => variant((c) => (c.models.Ticket.tenantField = 'org..id')), 'model Ticket, field tenantField: must be a dotted field path or null'],
    ['no fields', () => variant((c) => (c.models.Ticket.fields = {})), 'model Ticket: `fields` must declare at least one field'],
    [
      'an ObjectId tenant field',
      () => withTicketField('orgId', 'ObjectId!'),
      'model Ticket, field orgId: the tenant field must be a String or ID field (tenants are compared as strings)',
    ],
    [
      'a tenant field inside a list of objects',
      () => variant((c) => {
        c.models.Ticket.tenantField = 'owners.orgId'
        ;(c.models.Ticket.fields as Record<string, unknown>).owners = { object: { orgId: 'String!' }, list: true }
      }),
      'model Ticket, field owners.orgId: the tenant field must not be inside a list (owners is a list)',
    ],
    [
      'a nested list tenant field',
      () => variant((c) => {
        c.models.Ticket.tenantField = 'org.ids'
        ;(c.models.Ticket.fields as Record<string, unknown>).org = { object: { ids: '[String!]' } }
      }),
      'model Ticket, field org.ids: the tenant field must be a String or ID field (tenants are compared as strings)',
    ],
    [
      'a misspelt type',
      () => withTicketField('title', 'Strin'),
      'model Ticket, field title: unknown type "Strin"; use one of String Int Float Boolean ID ObjectId DateTime JSON',
    ],
    [
      'an unclosed list type',
      () => withTicketField('title', '[String'),
      'model Ticket, field title: type "[String" is not one of String Int Float Boolean ID ObjectId DateTime JSON with optional ! and [..]',
    ],
    [
      'a doubled !',
      () => withTicketField('title', 'String!!'),
      'model Ticket, field title: type "String!!" is not one of String Int Float Boolean ID ObjectId DateTime JSON with optional ! and [..]',
    ],
    ['an invalid field name', () => withTicketField('due-at', 'DateTime'), 'model Ticket, field due-at: is not a valid GraphQL field name'],
    ['a declared id', () => withTicketField('id', 'ID!'), 'model Ticket, field id: `id` is implicit (from _id); do not declare it'],
    ['a declared _id', () => withTicketField('_id', 'ObjectId'), 'model Ticket, field _id: `id` is implicit (from _id); do not declare it'],
    [
      'an enum value that is no GraphQL name',
      () => withTicketField('priority', { enum: { 'VERY-HIGH': 'vh' } }),
      'model Ticket, field priority: enum value "VERY-HIGH" is not a valid GraphQL enum value',
    ],
    [
      'an enum value GraphQL reserves',
      () => withTicketField('priority', { enum: { true: 't' } }),
      'model Ticket, field priority: enum value "true" is not a valid GraphQL enum value',
    ],
    [
      'an enum with one stored value twice',
      () => withTicketField('priority', { enum: { LOW: 'low', MINOR: 'low' } }),
      'model Ticket, field priority: enum values map twice to "low"',
    ],
    ['an empty enum', () => withTicketField('priority', { enum: {} }), 'model Ticket, field priority: enum must map at least one GraphQL value to a stored value'],
    ['an object without fields', () => withTicketField('sla', { object: {} }), 'model Ticket, field sla: object must declare at least one field'],
    [
      'a nested field with a bad type',
      () => withTicketField('sla', { object: { hours: 'Integer' } }),
      'model Ticket, field sla.hours: unknown type "Integer"; use one of String Int Float Boolean ID ObjectId DateTime JSON',
    ],
    [
      'objects nested five deep',
      () => withTicketField('a', { object: { b: { object: { c: { object: { d: { object: { e: { object: { f: 'Int' } } } } } } } } } }),
      'model Ticket, field a.b.c.d.e: objects nest at most 4 levels',
    ],
    ['both enum and object', () => withTicketField('sla', { enum: { A: 'a' }, object: { x: 'Int' } }), 'model Ticket, field sla: must have exactly one of the keys enum or object'],
    ['an unknown key on a field', () => withTicketField('sla', { object: { x: 'Int' }, nullable: true }), 'model Ticket, field sla: unknown key "nullable"'],
    [
      'filterable naming an undeclared field',
      () => variant((c) => (c.models.Ticket.filterable = ['severity', 'sla.minutes'])),
      'model Ticket, field sla.minutes: is listed in `filterable` but not declared in `fields`',
    ],
    [
      'filterable naming a JSON field',
      () => variant((c) => {
        ;(c.models.Ticket.fields as Record<string, unknown>).meta = 'JSON'
        c.models.Ticket.filterable = ['meta']
      }),
      'model Ticket, field meta: is not filterable: only scalars (not JSON) and enums are',
    ],
    [
      'filterable naming an object',
      () => variant((c) => (c.models.Ticket.filterable = ['sla'])),
      'model Ticket, field sla: is not filterable: only scalars (not JSON) and enums are',
    ],
    [
      'a shorthand with an unknown op',
      () => withShorthand({ field: 'severity', op: 'atLeast' }),
      'model Ticket, field shorthands.pick: op must be one of eq, ne, gt, gte, lt, lte, in, notIn, exists, contains, containsAny, isEmpty, changedTo, changed, changedNames',
    ],
    [
      'a shorthand with a reserved name',
      () => variant((c) => ((c.models.Ticket.shorthands as Record<string, unknown>).where = { field: 'severity', op: 'gte' })),
      'model Ticket, field shorthands.where: is not a usable argument name (reserved: id, operationTypes, where, changed)',
    ],
    ['a list op on a scalar', () => withShorthand({ field: 'severity', op: 'contains' }), 'model Ticket, field shorthands.pick: contains needs a list field'],
    [
      'a scalar op on a list',
      () => withShorthand({ field: 'tags', op: 'eq' }),
      'model Ticket, field shorthands.pick: tags is a list: use contains, containsAny, isEmpty or exists',
    ],
    [
      'changedTo on a nested field',
      () => withShorthand({ field: 'sla.tier', op: 'changedTo' }),
      'model Ticket, field shorthands.pick: changedTo needs a top-level scalar or enum field',
    ],
    [
      'a shorthand on a field that is not filterable',
      () => withShorthand({ field: 'title', op: 'eq' }),
      'model Ticket, field shorthands.pick: field "title" is not a filterable field',
    ],
    ['a field on changed', () => withShorthand({ field: 'title', op: 'changed' }), 'model Ticket, field shorthands.pick: op changed takes no field'],
    ['a range on the id', () => withShorthand({ field: 'id', op: 'gte' }), 'model Ticket, field shorthands.pick: the id takes only eq or in'],
    [
      'a relation to an unknown model',
      () => variant((c) => (c.models.Ticket.relations = { assignee: { model: 'Agnet', field: 'assigneeId' } })),
      'model Ticket, field relations.assignee: model "Agnet" is not configured',
    ],
    [
      'a relation on a field that holds no id',
      () => variant((c) => (c.models.Ticket.relations = { assignee: { model: 'Agent', field: 'severity' } })),
      'model Ticket, field relations.assignee: field "severity" must be a top-level ObjectId, ID or String field',
    ],
    [
      'a relation named like a field',
      () => variant((c) => (c.models.Ticket.relations = { title: { model: 'Agent', field: 'assigneeId' } })),
      'model Ticket, field relations.title: has the name of a field',
    ],
    [
      'two models on one collection',
      () => variant((c) => (c.models.Agent.collection = 'tickets')),
      'model Agent, field collection: collection "tickets" is also used by model Ticket',
    ],
    [
      'two models with one subscription name',
      () => variant((c) => (c.models.Agent.subscription = 'ticketChanged')),
      'model Agent, field subscription: subscription "ticketChanged" is also used by model Ticket',
    ],
    [
      'two models with one list query name',
      () => variant((c) => (c.models.Agent.list = 'tickets')),
      'model Agent, field list: query "tickets" is also used by model Ticket',
    ],
    ['an idType that is not ObjectId or String', () => variant((c) => (c.models.Ticket.idType = 'UUID')), 'model Ticket, field idType: must be ObjectId or String'],
    ['an auth key it does not know', () => variant((c) => (c.auth.jwks = 'x')), 'auth: unknown key "jwks"'],
    ['a jwksUrl that is no http(s) URL', () => variant((c) => (c.auth.jwksUrl = 'ftp://idp.example/jwks')), 'auth: jwksUrl must be an http(s) URL'],
    ['a jwksUrl that is no URL', () => variant((c) => (c.auth.jwksUrl = 'idp.example/jwks')), 'auth: jwksUrl must be an http(s) URL'],
    ['a jwksUrl without issuer', () => variant((c) => delete c.auth.issuer), 'auth: issuer and audience are required with jwksUrl'],
    ['a jwksUrl without audience', () => variant((c) => delete c.auth.audience), 'auth: issuer and audience are required with jwksUrl'],
    ['an empty issuer', () => variant((c) => (c.auth.issuer = '')), 'auth: issuer must be a non-empty string'],
    ['an empty audience', () => variant((c) => (c.auth.audience = '')), 'auth: audience must be a non-empty string or a non-empty list of them'],
    ['an empty audience list', () => variant((c) => (c.auth.audience = [])), 'auth: audience must be a non-empty string or a non-empty list of them'],
    ['an unknown claims key', () => variant((c) => (c.auth.claims = { tenantId: 'org' })), 'auth: claims: unknown key "tenantId"'],
    ['an empty claim path', () => variant((c) => (c.auth.claims = { tenant: '' })), 'auth: claims.tenant must be a claim name or dotted path'],
  ])('%s', (_name, raw, message) => {
    expect(configError(raw())).toBe(message)
  })
})

describe('resolveConfig rejects names the generated schema cannot hold', () => {
  const two = (extra: Record<string, unknown>, ticketFields: Record<string, unknown> = {}) =>
    variant((c) => {
      Object.assign(c.models.Ticket.fields as Record<string, unknown>, ticketFields)
      Object.assign(c.models, extra)
    })
  const plain = (collection: string, fields: Record<string, unknown> = { name: 'String' }) => ({ collection, tenantField: null, fields })

  it.each<[string, () => unknown, string]>([
    ['a model named like a nested type of another', () => two({ TicketSla: plain('slas') }), 'model TicketSla: type name "TicketSla" is also used by model Ticket, field sla'],
    ['a model named like a generated type of another', () => two({ TicketPage: plain('pages') }), 'model TicketPage: type name "TicketPage" is also used by model Ticket'],
    ['a model named like a gateway type', () => two({ Cursor: plain('cursors') }), 'model Cursor: type name "Cursor" is reserved by the gateway'],
    ['a model named Query', () => two({ Query: plain('queries') }), 'model Query: type name "Query" is reserved by the gateway'],
    ['a model whose list query is a gateway query', () => two({ Stream: plain('streams') }), 'model Stream, field list: query "streams" is also used by the gateway'],
    [
      'two enums with one typeName and different values',
      () => two({}, { state: { enum: { A: 'a' }, typeName: 'Level' }, level: { enum: { B: 'b' }, typeName: 'Level' } }),
      'model Ticket, field level: type name "Level" is also used by model Ticket, field state',
    ],
    [
      'two objects with one typeName and different fields',
      () => two({}, { billing: { object: { city: 'String' }, typeName: 'Address' }, shipping: { object: { street: 'String' }, typeName: 'Address' } }),
      'model Ticket, field shipping: type name "Address" is also used by model Ticket, field billing',
    ],
    [
      'two fields with one field enum value',
      () => two({}, { due_at: 'DateTime' }),
      'model Ticket, field due_at: its TicketField value DUE_AT is also the value of field dueAt; rename one',
    ],
  ])('%s', (_name, raw, message) => {
    expect(configError(raw())).toBe(message)
  })

  it('rejects objects sharing a typeName even with one shape', () => {
    const address = { object: { city: 'String' }, typeName: 'Address' }
    expect(configError(two({}, { billing: address, shipping: address }))).toBe(
      'model Ticket, field shipping: type name "Address" is also used by model Ticket, field billing',
    )
  })

  it('accepts enums that share a typeName with the same values, across models, and builds their schema', () => {
    const level = { enum: { LOW: 'l', HIGH: 'h' }, typeName: 'Level' }
    const registry = resolveConfig(
      variant((c) => {
        Object.assign(c.models.Ticket.fields as Record<string, unknown>, { level })
        Object.assign(c.models.Agent.fields as Record<string, unknown>, { level, levels: { ...level, list: true } })
      }),
    )
    expect(registry.byName('Agent')!.fields.find((f) => f.name === 'levels')).toMatchObject({ kind: 'enum', typeName: 'Level', list: true })
    const schema = buildSchema(registry)
    expect(schema.getType('Level')?.toString()).toBe('Level')
    expect(schema.getType('LevelListComparison')?.toString()).toBe('LevelListComparison')
  })
})
