/**
 * Splits a byte stream into wire messages by their length prefix. A length outside [16, 48 MB] is a protocol
 * error: the caller closes the connection, so at most one message is ever buffered.
 */
import { HEADER_SIZE, MAX_MESSAGE_SIZE, WireProtocolError } from './codec.js'

export interface FrameReader {
  /** Feeds bytes; calls `onFrame` for every complete message. Throws WireProtocolError on a bad length. */
  push(chunk: Buffer): void
}

export function createFrameReader(onFrame: (frame: Buffer) => void): FrameReader {
  let chunks: Buffer[] = []
  let buffered = 0

  const peekLength = (): number => {
    const first = chunks[0]
    if (first.length >= 4) return first.readInt32LE(0)
    const merged = Buffer.concat(chunks)
    chunks = [merged]
    return merged.readInt32LE(0)
  }

  return {
    push(chunk) {
      chunks.push(chunk)
      buffered += chunk.length
      while (buffered >= 4) {
        const length = peekLength()
        if (length < HEADER_SIZE || length > MAX_MESSAGE_SIZE) {
          chunks = []
          buffered = 0
          throw new WireProtocolError(`invalid message length ${length}`)
        }
        if (buffered < length) return
        const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, buffered)
        const frame = all.subarray(0, length)
        const rest = all.subarray(length)
        chunks = rest.length ? [rest] : []
        buffered = rest.length
        onFrame(frame)
      }
    },
  }
}
