/**
 * One client connection: frames in, commands handled strictly in order, replies out. Any protocol error or
 * unexpected failure closes this connection only.
 */
import type { Socket } from 'node:net'
import type { Document } from 'bson'
import type { ConnectionState } from '../types.js'
import { decodeMessage, encodeMsg, encodeReply, MsgFlag } from './codec.js'
import { createFrameReader } from './framing.js'

/** Connection facts command handlers may read and (handshake) fill in. */
export interface ConnectionInfo extends ConnectionState {
  /** `client.application.name` from the handshake. */
  appName: string | undefined
}

/** What handling a command produced: a reply, or (fault injection) closing the socket without one. */
export type HandlerResult = { readonly kind: 'reply'; readonly doc: Document } | { readonly kind: 'close' }

/** Facts about the message a command came in. */
export interface RequestMeta {
  /** Size in bytes of the largest document in the message. */
  readonly largestDocument: number
}

export type CommandHandler = (command: Document, connection: ConnectionInfo, meta: RequestMeta) => Promise<HandlerResult>

export interface Connection {
  readonly info: ConnectionInfo
  close(): void
}

/** Reading pauses while this much is queued (one large message still fits), so memory per connection stays bounded. */
const MAX_QUEUED_FRAMES = 16
const MAX_QUEUED_BYTES = 16 * 1024 * 1024

export function createConnection(
  socket: Socket,
  id: number,
  handle: CommandHandler,
  onClosed: (connection: Connection) => void,
): Connection {
  const info: ConnectionInfo = { id, remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`, appName: undefined }
  const queue: Buffer[] = []
  let queuedBytes = 0
  let running = false
  let closed = false

  const close = () => {
    if (closed) return
    closed = true
    queue.length = 0
    queuedBytes = 0
    socket.destroy()
  }
  const connection: Connection = { info, close }

  const write = (parts: Uint8Array[]) => {
    if (closed) return
    socket.cork()
    for (const part of parts) socket.write(part)
    socket.uncork()
  }

  const processOne = async (frame: Buffer) => {
    const request = decodeMessage(frame)
    const result = await handle(request.command, info, request)
    if (result.kind === 'close') return close()
    if (request.kind === 'query') return write(encodeReply(request.requestId, result.doc))
    if (request.flags & MsgFlag.moreToCome) return
    write(encodeMsg(request.requestId, result.doc))
  }

  const drain = async () => {
    if (running) return
    running = true
    try {
      while (queue.length && !closed) {
        const frame = queue.shift()!
        queuedBytes -= frame.length
        if (queue.length < MAX_QUEUED_FRAMES / 2 && queuedBytes < MAX_QUEUED_BYTES / 2) socket.resume()
        await processOne(frame)
      }
    } catch {
      close()
    } finally {
      running = false
    }
  }

  const reader = createFrameReader((frame) => {
    queue.push(frame)
    queuedBytes += frame.length
    if (queue.length >= MAX_QUEUED_FRAMES || queuedBytes >= MAX_QUEUED_BYTES) socket.pause()
  })

  socket.setNoDelay(true)
  socket.on('data', (chunk: Buffer) => {
    if (closed) return
    try {
      reader.push(chunk)
    } catch {
      return close()
    }
    void drain()
  })
  socket.on('error', () => close())
  socket.on('close', () => {
    closed = true
    queue.length = 0
    onClosed(connection)
  })
  return connection
}
