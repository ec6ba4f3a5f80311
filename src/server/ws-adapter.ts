import type { IncomingMessage } from 'node:http'
import { CloseCode, type Server } from 'graphql-ws'
import { WebSocket, type WebSocketServer } from 'ws'
import type { Logger } from '../observability/logger.js'
import type { SocketExtra } from './ws-protocol.js'

export interface WebSocketAdapterOptions {
  /**
   * Interval between server pings. A peer that has not answered the previous ping by the next one is
   * terminated. Default 15 000 ms; 0 disables keep-alive.
   */
  keepAliveMs?: number
  /**
   * On dispose, how long sockets get to finish the close handshake before they are terminated. Default 1000 ms.
   */
  closeGraceMs?: number
  logger: Logger
  /** Called when a socket opens and when it closes (connection counts, metrics). */
  onOpen?: () => void
  onClose?: () => void
}

export interface WebSocketAdapter {
  /** Open sockets. */
  connections(): number
  /** Closes every socket with 1001 (terminating those that do not finish in time), waits for their operations to end, closes the server. */
  dispose(): Promise<void>
}

/**
 * Binds the graphql-ws protocol core to a `ws` server. The socket's `send` resolves only once `ws` has flushed
 * the frame, so a subscription's iterator is pulled no faster than its client reads; `send` rejects on a socket
 * that is no longer open, which ends that subscription's loop, and that rejection never escapes.
 */
export function useWebSocketAdapter(wss: WebSocketServer, server: Server<SocketExtra>, opts: WebSocketAdapterOptions): WebSocketAdapter {
  const { logger } = opts
  const keepAliveMs = opts.keepAliveMs ?? 15_000
  const settled = new Map<WebSocket, Promise<void>>()

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    opts.onOpen?.()
    let resolveSettled!: () => void
    settled.set(socket, new Promise<void>((resolve) => (resolveSettled = resolve)))

    // ws closes by itself on protocol errors (1009 for an oversize frame, 1002, 1007): only note them.
    socket.on('error', (err) => logger.debug({ err }, 'websocket error'))
    const stopKeepAlive = keepAlive(socket, keepAliveMs)

    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== WebSocket.OPEN) return reject(new SocketClosedError())
            socket.send(data, (err) => (err ? reject(err) : resolve()))
          }),
        close: (code, reason) => {
          if (socket.readyState === WebSocket.OPEN) socket.close(code, reason)
        },
        onMessage: (handle) =>
          socket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
            handle(text(data)).catch((err: unknown) => {
              if (socket.readyState !== WebSocket.OPEN || err instanceof SocketClosedError) return
              logger.error({ err }, 'websocket message handling failed')
              socket.close(CloseCode.InternalServerError, 'Internal server error')
            })
          }),
      },
      { socket, request },
    )

    socket.once('close', (code: number, reason: Buffer) => {
      stopKeepAlive()
      opts.onClose?.()
      closed(code, reason.toString())
        .catch((err: unknown) => logger.error({ err }, 'websocket close handling failed'))
        .finally(() => {
          settled.delete(socket)
          resolveSettled()
        })
    })
  })

  return {
    connections: () => settled.size,
    async dispose() {
      const sockets = [...settled.keys()]
      const pending = [...settled.values()]
      for (const socket of sockets) socket.close(1001, 'Going away')
      const grace = setTimeout(() => sockets.forEach((s) => s.terminate()), opts.closeGraceMs ?? 1000)
      await Promise.all(pending)
      clearTimeout(grace)
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

class SocketClosedError extends Error {
  constructor() {
    super('WebSocket is not open')
  }
}

function text(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8')
}

/** Pings every `intervalMs`; terminates a peer that missed the previous pong. Returns the stopper. */
function keepAlive(socket: WebSocket, intervalMs: number): () => void {
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) return () => undefined
  let alive = true
  socket.on('pong', () => (alive = true))
  const timer = setInterval(() => {
    if (!alive) return socket.terminate()
    alive = false
    socket.ping()
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
