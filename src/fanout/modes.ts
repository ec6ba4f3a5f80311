import type { GatewayNodeInfo } from '../services.js'
import type { StreamFactory } from '../streams/registry.js'
import { createSharedStream } from '../streams/shared-stream.js'
import { createInProcessFanOut } from './in-process.js'

/** What this node tells the others about itself. */
export interface LocalNodeState {
  readonly address: string
  readonly startedAt: Date
  readonly connections: number
  readonly subscriptions: number
  /** Streams with local subscribers, and those this node owns. */
  readonly neededStreams: readonly string[]
  readonly ownedStreams: readonly string[]
}

/** How a node's streams reach its subscribers: alone in-process, or as one node of a Redis-backed cluster. */
export interface FanOutMode {
  readonly kind: 'in-process' | 'redis'
  readonly createStream: StreamFactory
  /** Starts periodic work (heartbeats, interest) reading the node's live state. */
  start(state: () => LocalNodeState): void
  ready(): Promise<boolean>
  nodes(local: GatewayNodeInfo): Promise<GatewayNodeInfo[]>
  stop(): Promise<void>
}

export function createInProcessMode(): FanOutMode {
  const fanout = createInProcessFanOut()
  return {
    kind: 'in-process',
    createStream: (options) => createSharedStream({ ...options, fanout }),
    start: () => undefined,
    ready: async () => true,
    nodes: async (local) => [local],
    stop: () => fanout.stop(),
  }
}
