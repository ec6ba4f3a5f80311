/**
 * The bare `ws` server (bare-server.ts) as a memory baseline sees it: its worker started with an inspector, so its
 * memory and heap snapshots are read the same way as the gateway's (gateway-process.ts).
 */
import { compiled } from '../lib/compiled.js'
import { freePort } from '../lib/ports.js'
import { startWorker, type Exit } from '../lib/processes.js'
import { readMemory, ROOT, type MemoryReading } from './gateway-process.js'
import { takeHeapSnapshot } from './inspector.js'

export interface BareProcess {
  readonly pid: number
  /** `ws://127.0.0.1:PORT/graphql` */
  readonly url: string
  /** The command line of the worker. */
  readonly command: string
  memory(): Promise<MemoryReading>
  /** A V8 heap snapshot (JSON text) taken after a full GC. */
  heapSnapshot(): Promise<string>
  stop(): Promise<Exit>
}

export async function startBareServer(): Promise<BareProcess> {
  const inspectPort = await freePort()
  const file = await compiled(ROOT, 'bench/fanout/bare-server.ts')
  // Only to force a full GC before memory readings and to take heap snapshots, as for the gateway.
  const execArgv = [`--inspect=127.0.0.1:${inspectPort}`]
  const worker = await startWorker({ file, execArgv })
  try {
    const port = await worker.request<number>('listen')
    return {
      pid: worker.pid,
      url: `ws://127.0.0.1:${port}/graphql`,
      command: `node ${[...execArgv, file].join(' ')}`,
      // Read as the gateway's `memory()` reads it, so the two RSS figures compare.
      memory: () => readMemory(worker.pid, inspectPort),
      heapSnapshot: () => takeHeapSnapshot(inspectPort),
      stop: async () => {
        await worker.request('close', undefined, 30_000).catch(() => undefined)
        return worker.stop()
      },
    }
  } catch (error) {
    await worker.stop()
    throw error
  }
}
