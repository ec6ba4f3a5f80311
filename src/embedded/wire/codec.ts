/**
 * MongoDB wire messages: decoding OP_MSG and OP_QUERY requests, encoding OP_MSG and OP_REPLY replies.
 * Anything malformed raises a WireProtocolError; the connection that sent it is closed.
 */
import { BSON, type Document } from 'bson'
import { REPLY_SERIALIZE, serializeReply } from './shared-bson.js'

export const OpCode = { reply: 1, query: 2004, compressed: 2012, msg: 2013 } as const

export const MsgFlag = { checksumPresent: 1 << 0, moreToCome: 1 << 1, exhaustAllowed: 1 << 16 } as const

export const HEADER_SIZE = 16
export const MAX_MESSAGE_SIZE = 48_000_000

export type WireRequest =
  | {
      readonly kind: 'msg'
      readonly requestId: number
      readonly flags: number
      /** The body with every document sequence merged in as an array field. */
      readonly command: Document
      /** Size of the largest document of the message (body or sequence). */
      readonly largestDocument: number
    }
  | {
      readonly kind: 'query'
      readonly requestId: number
      readonly collection: string
      readonly command: Document
      readonly largestDocument: number
    }

export class WireProtocolError extends Error {
  override readonly name = 'WireProtocolError'
}

const DESERIALIZE = { promoteValues: false, promoteBuffers: false } as const

function readDocument(buf: Buffer, offset: number, end: number): { doc: Document; next: number } {
  if (offset + 5 > end) throw new WireProtocolError('truncated document')
  const size = buf.readInt32LE(offset)
  if (size < 5 || offset + size > end) throw new WireProtocolError('invalid document length')
  try {
    return { doc: BSON.deserialize(buf.subarray(offset, offset + size), DESERIALIZE), next: offset + size }
  } catch (error) {
    throw new WireProtocolError(`invalid BSON: ${(error as Error).message}`)
  }
}

function readCString(buf: Buffer, offset: number, end: number): { value: string; next: number } {
  const zero = buf.indexOf(0, offset)
  if (zero < 0 || zero >= end) throw new WireProtocolError('unterminated string')
  return { value: buf.toString('utf8', offset, zero), next: zero + 1 }
}

/** Decodes one complete message (header included). */
export function decodeMessage(buf: Buffer): WireRequest {
  if (buf.length < HEADER_SIZE) throw new WireProtocolError('message shorter than its header')
  const requestId = buf.readInt32LE(4)
  const opCode = buf.readInt32LE(12)
  if (opCode === OpCode.msg) return decodeMsg(buf, requestId)
  if (opCode === OpCode.query) return decodeQuery(buf, requestId)
  throw new WireProtocolError(`unsupported opCode ${opCode}`)
}

function decodeMsg(buf: Buffer, requestId: number): WireRequest {
  if (buf.length < HEADER_SIZE + 5) throw new WireProtocolError('OP_MSG too short')
  const flags = buf.readUInt32LE(HEADER_SIZE)
  // Unknown required flag bits (0-15) must make the message fail.
  if (flags & 0xfffc) throw new WireProtocolError(`unsupported OP_MSG flags ${flags}`)
  const end = flags & MsgFlag.checksumPresent ? buf.length - 4 : buf.length
  let offset = HEADER_SIZE + 4
  let body: Document | undefined
  let largest = 0
  const sequences: Array<[string, Document[]]> = []
  while (offset < end) {
    const kind = buf[offset++]
    if (kind === 0) {
      if (body) throw new WireProtocolError('OP_MSG with two body sections')
      const read = readDocument(buf, offset, end)
      body = read.doc
      largest = Math.max(largest, read.next - offset)
      offset = read.next
    } else if (kind === 1) {
      if (offset + 4 > end) throw new WireProtocolError('truncated document sequence')
      const size = buf.readInt32LE(offset)
      const seqEnd = offset + size
      if (size < 5 || seqEnd > end) throw new WireProtocolError('invalid document sequence length')
      const id = readCString(buf, offset + 4, seqEnd)
      const docs: Document[] = []
      let at = id.next
      while (at < seqEnd) {
        const read = readDocument(buf, at, seqEnd)
        docs.push(read.doc)
        largest = Math.max(largest, read.next - at)
        at = read.next
      }
      sequences.push([id.value, docs])
      offset = seqEnd
    } else {
      throw new WireProtocolError(`unknown OP_MSG section kind ${kind}`)
    }
  }
  if (!body) throw new WireProtocolError('OP_MSG without a body')
  for (const [id, docs] of sequences) body[id] = docs
  return { kind: 'msg', requestId, flags, command: body, largestDocument: largest }
}

function decodeQuery(buf: Buffer, requestId: number): WireRequest {
  const name = readCString(buf, HEADER_SIZE + 4, buf.length)
  const docStart = name.next + 8
  const read = readDocument(buf, docStart, buf.length)
  const inner = read.doc.$query
  const command: Document = inner && typeof inner === 'object' && !Array.isArray(inner) ? inner : read.doc
  command.$db ??= name.value.split('.')[0]
  return { kind: 'query', requestId, collection: name.value, command, largestDocument: read.next - docStart }
}

let nextRequestId = 1

function header(length: number, responseTo: number, opCode: number): Buffer {
  const h = Buffer.allocUnsafe(HEADER_SIZE)
  h.writeInt32LE(length, 0)
  h.writeInt32LE(nextRequestId, 4)
  nextRequestId = (nextRequestId + 1) & 0x7fffffff
  h.writeInt32LE(responseTo, 8)
  h.writeInt32LE(opCode, 12)
  return h
}

/** OP_MSG reply with one body section. */
export function encodeMsg(responseTo: number, reply: Document): Uint8Array[] {
  const body = serializeReply(reply)
  const prefix = Buffer.allocUnsafe(5)
  prefix.writeUInt32LE(0, 0)
  prefix[4] = 0
  return [header(HEADER_SIZE + 5 + body.length, responseTo, OpCode.msg), prefix, body]
}

/** OP_REPLY carrying one document (answers to OP_QUERY handshakes). */
export function encodeReply(responseTo: number, reply: Document): Uint8Array[] {
  const body = BSON.serialize(reply, REPLY_SERIALIZE)
  const fields = Buffer.alloc(20)
  fields.writeInt32LE(8, 0) // AwaitCapable
  fields.writeInt32LE(1, 16) // numberReturned
  return [header(HEADER_SIZE + 20 + body.length, responseTo, OpCode.reply), fields, body]
}
