import type { Delivery } from '../../streams/stream-event.js'
import type { QueueItem } from '../../streams/subscriber-queue.js'
import type { GraphQLContext } from '../context.js'

/** An error item ends the subscription as a `next` carrying the error (with its code), never a bare close. */
export function unwrapItem(item: QueueItem<Delivery>, _args: unknown, ctx: GraphQLContext): Delivery {
  if (item.error) throw item.error
  ctx.services.onDelivered(item.value)
  return item.value
}
