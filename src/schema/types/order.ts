import type { Document } from 'mongodb'
import { boundLoader } from '../../loaders/index.js'
import { builder } from '../builder.js'
import { idString } from '../ids.js'
import { OrderStatusEnum } from './enums.js'
import { UserRef } from './user.js'

export const OrderRef = builder.objectRef<Document>('Order')
const OrderItemRef = builder.objectRef<Document>('OrderItem')

type Status = 'PENDING' | 'CONFIRMED' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED' | 'RETURNED'
const toDate = (v: unknown) => (v instanceof Date ? v : null)

OrderItemRef.implement({
  fields: (t) => ({
    productId: t.id({ resolve: (i) => String(i.productId) }),
    quantity: t.int({ resolve: (i) => Number(i.quantity) }),
    unitPrice: t.float({ resolve: (i) => Number(i.unitPrice) }),
  }),
})

OrderRef.implement({
  fields: (t) => ({
    id: t.id({ resolve: (o) => idString(o._id) }),
    tenantId: t.id({ resolve: (o) => String(o.tenantId) }),
    status: t.field({ type: OrderStatusEnum, resolve: (o) => String(o.status).toUpperCase() as Status }),
    totalAmount: t.float({ resolve: (o) => Number(o.totalAmount) }),
    currency: t.string({ nullable: true, resolve: (o) => (o.currency as string | undefined) ?? null }),
    region: t.string({ nullable: true, resolve: (o) => (o.region as string | undefined) ?? null }),
    items: t.field({ type: [OrderItemRef], resolve: (o) => (Array.isArray(o.items) ? (o.items as Document[]) : []) }),
    customerId: t.id({ resolve: (o) => idString(o.customerId) }),
    customer: t.field({
      type: UserRef,
      nullable: true,
      resolve: (o, _args, ctx) => (o.customerId ? (boundLoader(o) ?? ctx.loaders.users).load(idString(o.customerId)) : null),
    }),
    createdAt: t.field({ type: 'DateTime', nullable: true, resolve: (o) => toDate(o.createdAt) }),
    updatedAt: t.field({ type: 'DateTime', nullable: true, resolve: (o) => toDate(o.updatedAt) }),
  }),
})
