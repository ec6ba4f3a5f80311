import type { Delivery } from '../../streams/stream-event.js'
import type { QueueItem } from '../../streams/subscriber-queue.js'

/**
 * An error item ends the subscription as a `next` carrying the error (with its code), never a bare close.
 * (Deliveries are counted where events are executed: see shared-execution.ts.)
 */
export function unwrapItem(item: QueueItem<Delivery>): Delivery {
  if (item.error) throw item.error
  return item.value
}
