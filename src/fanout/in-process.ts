import type { FanOut, StreamListener } from './types.js'

/** Single-node fan-out: messages reach local listeners synchronously, in publish order. */
export function createInProcessFanOut(): FanOut {
  const listeners = new Map<string, Set<StreamListener>>()
  return {
    publish(streamKey, message) {
      const set = listeners.get(streamKey)
      if (set) for (const listener of [...set]) listener(message)
    },
    subscribe(streamKey, listener) {
      let set = listeners.get(streamKey)
      if (!set) listeners.set(streamKey, (set = new Set()))
      set.add(listener)
      return () => {
        set.delete(listener)
        if (set.size === 0 && listeners.get(streamKey) === set) listeners.delete(streamKey)
      }
    },
    async stop() {
      listeners.clear()
    },
  }
}
