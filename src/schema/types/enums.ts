import { builder } from '../builder.js'

export const OperationTypeEnum = builder.enumType('OperationType', {
  values: ['INSERT', 'UPDATE', 'REPLACE', 'DELETE'] as const,
})
export const TransitionEnum = builder.enumType('Transition', {
  description: "Relative to the subscription's document filter",
  values: ['ENTERED', 'UPDATED', 'LEFT'] as const,
})
export const OrderStatusEnum = builder.enumType('OrderStatus', {
  values: ['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'RETURNED'] as const,
})
export const UserProfileFieldEnum = builder.enumType('UserProfileField', {
  values: ['EMAIL', 'NAME', 'TIER', 'PROFILE', 'PREFERENCES'] as const,
})
export const FilterLocationEnum = builder.enumType('FilterLocation', {
  values: ['MONGODB', 'GATEWAY'] as const,
})
export const StreamStateEnum = builder.enumType('StreamState', {
  values: ['STARTING', 'RUNNING', 'RESUMING', 'FAILED', 'STOPPED'] as const,
})
