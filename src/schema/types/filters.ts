import { builder } from '../builder.js'
import { OperationTypeEnum, OrderStatusEnum, UserProfileFieldEnum } from './enums.js'

export const OrderChangeFilterInput = builder.inputType('OrderChangeFilter', {
  fields: (t) => ({
    operationTypes: t.field({ type: [OperationTypeEnum], required: false }),
    status: t.field({ type: [OrderStatusEnum], required: false, description: 'Document filter' }),
    minTotal: t.float({ required: false, description: 'Document filter (inclusive)' }),
    maxTotal: t.float({ required: false, description: 'Document filter (inclusive)' }),
    customerId: t.id({ required: false, description: 'Document filter' }),
    region: t.string({ required: false, description: 'Document filter' }),
    statusChangedTo: t.field({ type: [OrderStatusEnum], required: false, description: 'Only updates that set status to one of these' }),
    fieldsChanged: t.stringList({ required: false, description: 'Only updates touching any of these top-level fields' }),
  }),
})

export const UserProfileFilterInput = builder.inputType('UserProfileFilter', {
  fields: (t) => ({
    userId: t.id({ required: false }),
    fields: t.field({ type: [UserProfileFieldEnum], required: false }),
  }),
})

export const OrderFilterInput = builder.inputType('OrderFilter', {
  fields: (t) => ({
    status: t.field({ type: [OrderStatusEnum], required: false }),
    minTotal: t.float({ required: false }),
    maxTotal: t.float({ required: false }),
    customerId: t.id({ required: false }),
    region: t.string({ required: false }),
  }),
})
