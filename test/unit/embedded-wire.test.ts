import { BSON } from 'bson'
import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMsg, WireProtocolError } from '../../src/embedded/wire/codec.js'
import { createFrameReader } from '../../src/embedded/wire/framing.js'

function opMsg(sections: Buffer[], flags = 0): Buffer {
  const body = Buffer.concat([Buffer.from(Uint32Array.of(flags).buffer), ...sections])
  const header = Buffer.alloc(16)
  header.writeInt32LE(16 + body.length, 0)
  header.writeInt32LE(3, 4)
  header.writeInt32LE(2013, 12)
  return Buffer.concat([header, body])
}

const kind0 = (doc: object) => Buffer.concat([Buffer.from([0]), BSON.serialize(doc)])

function kind1(id: string, docs: object[]): Buffer {
  const payload = Buffer.concat([Buffer.from(`${id}\0`), ...docs.map((d) => BSON.serialize(d))])
  const size = Buffer.alloc(4)
  size.writeInt32LE(4 + payload.length)
  return Buffer.concat([Buffer.from([1]), size, payload])
}

describe('OP_MSG decoding', () => {
  it('merges document sequences into the command and keeps numeric types', () => {
    const request = decodeMessage(opMsg([kind0({ insert: 'c', $db: 'd' }), kind1('documents', [{ a: 1 }, { b: 2.5 }])]))
    expect(request.kind).toBe('msg')
    expect(request.command.insert).toBe('c')
    expect(request.command.documents).toHaveLength(2)
    expect(request.command.documents[0].a._bsontype).toBe('Int32')
    expect(request.command.documents[1].b._bsontype).toBe('Double')
  })

  it('rejects malformed messages', () => {
    expect(() => decodeMessage(opMsg([]))).toThrow(WireProtocolError)
    expect(() => decodeMessage(opMsg([kind0({ a: 1 }), kind0({ b: 1 })]))).toThrow(WireProtocolError)
    expect(() => decodeMessage(opMsg([Buffer.from([7, 0, 0, 0, 0])]))).toThrow(WireProtocolError)
    expect(() => decodeMessage(opMsg([kind0({ a: 1 })], 1 << 4))).toThrow(WireProtocolError)
  })

  it('encodes replies that answer the request id', () => {
    const reply = Buffer.concat(encodeMsg(42, { ok: 1 }))
    expect(reply.readInt32LE(0)).toBe(reply.length)
    expect(reply.readInt32LE(8)).toBe(42)
    expect(BSON.deserialize(reply.subarray(21))).toEqual({ ok: 1 })
  })
})

describe('framing', () => {
  it('reassembles messages split across chunks and splits coalesced ones', () => {
    const frames: Buffer[] = []
    const reader = createFrameReader((frame) => frames.push(frame))
    const a = opMsg([kind0({ ping: 1 })])
    const b = opMsg([kind0({ hello: 1 })])
    const all = Buffer.concat([a, b])
    reader.push(all.subarray(0, 3))
    reader.push(all.subarray(3, a.length + 5))
    reader.push(all.subarray(a.length + 5))
    expect(frames.map((f) => f.length)).toEqual([a.length, b.length])
  })

  it('refuses lengths outside [16, 48 MB]', () => {
    const reader = createFrameReader(() => undefined)
    expect(() => reader.push(Buffer.from([1, 0, 0, 0]))).toThrow(WireProtocolError)
    const huge = Buffer.alloc(4)
    huge.writeInt32LE(49_000_000)
    expect(() => createFrameReader(() => undefined).push(huge)).toThrow(WireProtocolError)
  })
})
