/**
 * The load generators' graphql-ws connection: a raw `ws` socket (no client library between the benchmark and the
 * frames it counts), opened with `connection_init` carrying the bearer token.
 */
import WebSocket, { type RawData } from 'ws'

export interface ConnectionHandlers {
  /** Every frame after `connection_ack`. */
  onMessage(socket: WebSocket, data: RawData): void
  /** The socket closed after `connection_ack` (errors after it are ignored: the close follows them). */
  onClose(socket: WebSocket): void
}

/** Opens one socket and resolves once the server acknowledged `connection_init`; rejects if it closed or erred first. */
export function openAcknowledged(url: string, token: string, handlers: ConnectionHandlers): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false })
    socket.once('error', reject)
    socket.once('close', (code, reason) => reject(new Error(`closed before ack: ${code} ${reason.toString()}`)))
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })))
    socket.once('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string }
      if (message.type !== 'connection_ack') return reject(new Error(`expected connection_ack, got ${message.type}`))
      socket.removeAllListeners('close')
      socket.removeAllListeners('error')
      socket.on('error', () => undefined)
      socket.once('close', () => handlers.onClose(socket))
      socket.on('message', (next) => handlers.onMessage(socket, next))
      resolve(socket)
    })
  })
}
