import { defineConfig } from './types.js'

/**
 * The built-in demo: a shop's orders and its customers (DESIGN §3–§5). It is a configuration like any user's and
 * reproduces the published demo contract (`orderChanged`, `userProfileUpdated`, `orders(filter:)` …).
 */
export const demoConfig = defineConfig({
  models: {
    Order: {
      collection: 'orders',
      tenantField: 'tenantId',
      description: "An order in the demo shop. Stored in the `orders` collection; visible to its tenant only.",
      fields: {
        tenantId: 'ID!',
        status: {
          enum: {
            PENDING: 'pending',
            CONFIRMED: 'confirmed',
            SHIPPED: 'shipped',
            DELIVERED: 'delivered',
            CANCELLED: 'cancelled',
            RETURNED: 'returned',
          },
          required: true,
          description: 'Where the order is in its life (stored in lower case)',
        },
        totalAmount: 'Float!',
        currency: 'String',
        region: 'String',
        items: { object: { productId: 'ID!', quantity: 'Int!', unitPrice: 'Float!' }, list: true, required: true, description: 'Ordered products' },
        customerId: 'ObjectId!',
        createdAt: 'DateTime',
        updatedAt: 'DateTime',
      },
      relations: { customer: { model: 'User', field: 'customerId' } },
      shorthands: {
        status: { field: 'status', op: 'in', description: 'Document filter: status is one of these' },
        minTotal: { field: 'totalAmount', op: 'gte', description: 'Document filter: totalAmount ≥ minTotal (inclusive)' },
        maxTotal: { field: 'totalAmount', op: 'lte', description: 'Document filter: totalAmount ≤ maxTotal (inclusive)' },
        customerId: { field: 'customerId', op: 'eq', description: "Document filter: the customer's id (24-hex ObjectId)" },
        region: { field: 'region', op: 'eq', description: 'Document filter: exactly this region' },
        statusChangedTo: {
          field: 'status',
          op: 'changedTo',
          description: 'Only updates that set status to one of these, and replaces whose new status is one of these',
        },
        fieldsChanged: {
          op: 'changedNames',
          description: 'Only updates touching any of these top-level fields (by stored name), and replaces',
        },
      },
      listFilter: true,
    },
    User: {
      collection: 'users',
      tenantField: 'tenantId',
      description: 'A customer of the demo shop. Stored in the `users` collection; visible to its tenant only.',
      fields: {
        tenantId: 'ID!',
        email: 'String!',
        name: 'String',
        tier: 'String',
        profile: 'JSON',
        preferences: 'JSON',
      },
      shorthands: {
        userId: { field: 'id', op: 'eq', description: 'Only this user (24-hex ObjectId)' },
        fields: { op: 'changed', description: 'Only updates touching any of these fields, and replaces' },
      },
      subscription: 'userProfileUpdated',
      names: { changeFilter: 'UserProfileFilter', fieldEnum: 'UserProfileField' },
    },
  },
})
