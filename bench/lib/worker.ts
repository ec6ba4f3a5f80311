/**
 * The worker side of `startWorker`: named handlers run on request, one reply per request. The worker exits when
 * the parent goes away.
 */

export type WorkerHandlers = Record<string, (payload: never) => unknown>

interface Request {
  readonly id: number
  readonly type: string
  readonly payload: unknown
}

export function serveWorker(handlers: WorkerHandlers): void {
  if (!process.send) throw new Error('serveWorker: not started with an IPC channel')
  const send = process.send.bind(process)
  process.on('message', (message: Request) => {
    const { id, type, payload } = message
    const handler = type === 'ready' ? () => undefined : handlers[type]
    if (!handler) {
      send({ id, ok: false, error: `unknown request '${type}'` })
      return
    }
    Promise.resolve()
      .then(() => (handler as (payload: unknown) => unknown)(payload))
      .then(
        (value) => send({ id, ok: true, value }),
        (error: unknown) => send({ id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      )
  })
  process.on('disconnect', () => process.exit(0))
}
