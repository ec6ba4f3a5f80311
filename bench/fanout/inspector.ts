/**
 * Another Node process's memory through its inspector (started with `--inspect=HOST:PORT`): a full garbage collection,
 * so memory read from /proc afterwards counts what is live rather than what the collector has not reached yet, and
 * heap snapshots.
 */
import WebSocket from 'ws'

interface Target {
  readonly webSocketDebuggerUrl: string
}

interface Message {
  readonly id?: number
  readonly method?: string
  readonly params?: { readonly chunk?: string }
  readonly result?: { readonly result?: { readonly value?: unknown } }
  readonly error?: { readonly message: string }
}

interface Session {
  call(method: string, params?: object): Promise<Message>
  /** Called with every event the inspector sends. */
  onEvent(listener: (message: Message) => void): void
}

async function withSession<T>(port: number, use: (session: Session) => Promise<T>): Promise<T> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Target[]
  if (!targets[0]) throw new Error(`no inspector target on port ${port}`)
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl)
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })
  const pending = new Map<number, (message: Message) => void>()
  const listeners: Array<(message: Message) => void> = []
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as Message
    if (message.id !== undefined) pending.get(message.id)?.(message)
    else for (const listener of listeners) listener(message)
  })
  let nextId = 1
  const session: Session = {
    call: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = nextId++
        pending.set(id, (reply) => (reply.error ? reject(new Error(`${method}: ${reply.error.message}`)) : resolve(reply)))
        socket.send(JSON.stringify({ id, method, params }))
      }),
    onEvent: (listener) => listeners.push(listener),
  }
  try {
    return await use(session)
  } finally {
    socket.close()
  }
}

/** Runs a full GC in the process listening on `port`; resolves with its `process.memoryUsage()` afterwards. */
export function collectGarbage(port: number): Promise<NodeJS.MemoryUsage> {
  return withSession(port, async ({ call }) => {
    await call('HeapProfiler.collectGarbage')
    const usage = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true })
    return JSON.parse(String(usage.result?.result?.value)) as NodeJS.MemoryUsage
  })
}

/** A heap snapshot (after a full GC) of the process listening on `port`, as the JSON text V8 writes. */
export function takeHeapSnapshot(port: number): Promise<string> {
  return withSession(port, async ({ call, onEvent }) => {
    const chunks: string[] = []
    onEvent((message) => {
      if (message.method === 'HeapProfiler.addHeapSnapshotChunk' && message.params?.chunk) chunks.push(message.params.chunk)
    })
    await call('HeapProfiler.collectGarbage')
    await call('HeapProfiler.takeHeapSnapshot', { reportProgress: false })
    return chunks.join('')
  })
}
