/**
 * A full garbage collection in another Node process through its inspector (started with `--inspect=HOST:PORT`), so
 * memory read from /proc afterwards counts what is live rather than what the collector has not reached yet.
 */
import WebSocket from 'ws'

interface Target {
  readonly webSocketDebuggerUrl: string
}

interface Reply {
  readonly id: number
  readonly result?: { readonly result?: { readonly value?: unknown } }
  readonly error?: { readonly message: string }
}

/** Runs a full GC in the process listening on `port`; resolves with its `process.memoryUsage()` afterwards. */
export async function collectGarbage(port: number): Promise<NodeJS.MemoryUsage> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Target[]
  if (!targets[0]) throw new Error(`no inspector target on port ${port}`)
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl)
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })
  const pending = new Map<number, (reply: Reply) => void>()
  socket.on('message', (data) => {
    const reply = JSON.parse(data.toString()) as Reply
    pending.get(reply.id)?.(reply)
  })
  let nextId = 1
  const call = (method: string, params: object = {}) =>
    new Promise<Reply>((resolve, reject) => {
      const id = nextId++
      pending.set(id, (reply) => (reply.error ? reject(new Error(`${method}: ${reply.error.message}`)) : resolve(reply)))
      socket.send(JSON.stringify({ id, method, params }))
    })
  try {
    await call('HeapProfiler.collectGarbage')
    const usage = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true })
    return JSON.parse(String(usage.result?.result?.value)) as NodeJS.MemoryUsage
  } finally {
    socket.close()
  }
}
