import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { BSON, MongoClient, type Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeEmbeddedOnly, startMongo, type MongoTarget } from '../fixtures/mongo.js'

let mongo: MongoTarget
let address: { host: string; port: number }

beforeAll(async () => {
  mongo = await startMongo()
  const [host, port] = /mongodb:\/\/(?:[^@/]*@)?([^/,?]+)/.exec(mongo.uri)![1].split(':')
  address = { host, port: Number(port ?? 27017) }
})
afterAll(async () => {
  await mongo?.stop()
})

async function open(): Promise<Socket> {
  const socket = connect(address.port, address.host)
  await once(socket, 'connect')
  return socket
}

function header(length: number, requestId: number, opCode: number): Buffer {
  const h = Buffer.alloc(16)
  h.writeInt32LE(length, 0)
  h.writeInt32LE(requestId, 4)
  h.writeInt32LE(0, 8)
  h.writeInt32LE(opCode, 12)
  return h
}

function opMsg(body: Document, flags = 0, requestId = 1): Buffer {
  const doc = BSON.serialize(body)
  const rest = Buffer.concat([Buffer.from(Uint32Array.of(flags).buffer), Buffer.from([0]), doc])
  return Buffer.concat([header(16 + rest.length, requestId, 2013), rest])
}

/** Resolves with the first reply message, or undefined when the server closes the socket first. */
function nextReply(socket: Socket, timeoutMs = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0)
    const timer = setTimeout(() => reject(new Error('no reply and no close')), timeoutMs)
    const finish = (value: Buffer | undefined) => {
      clearTimeout(timer)
      socket.off('data', onData)
      resolve(value)
    }
    const onData = (chunk: Buffer) => {
      data = Buffer.concat([data, chunk])
      if (data.length >= 4 && data.length >= data.readInt32LE(0)) finish(data.subarray(0, data.readInt32LE(0)))
    }
    socket.on('data', onData)
    socket.once('close', () => finish(undefined))
  })
}

function msgBody(reply: Buffer): Document {
  expect(reply.readInt32LE(12)).toBe(2013)
  return BSON.deserialize(reply.subarray(21))
}

async function expectClosedAfter(bytes: Buffer) {
  const socket = await open()
  socket.on('error', () => undefined)
  socket.write(bytes)
  expect(await nextReply(socket)).toBeUndefined()
  expect(socket.destroyed || socket.readableEnded).toBe(true)
}

async function expectDriverStillWorks() {
  const coll = mongo.db.collection('wire')
  await coll.insertOne({ at: Date.now() })
  expect(await coll.countDocuments()).toBeGreaterThan(0)
}

describe('malformed input closes only the offending connection', () => {
  it('closes on a length below the header size', async () => {
    const bad = Buffer.alloc(16)
    bad.writeInt32LE(5, 0)
    await expectClosedAfter(bad)
    await expectDriverStillWorks()
  })

  it('closes on a length above 48 MB', async () => {
    await expectClosedAfter(header(64 * 1024 * 1024, 1, 2013))
    await expectDriverStillWorks()
  })

  it('closes on an unknown opcode', async () => {
    const body = BSON.serialize({ ping: 1, $db: 'admin' })
    await expectClosedAfter(Buffer.concat([header(16 + body.length, 1, 4242), body]))
    await expectDriverStillWorks()
  })

  it('closes on truncated BSON inside a complete message', async () => {
    const good = opMsg({ ping: 1, $db: 'admin' })
    const truncated = Buffer.from(good.subarray(0, good.length - 6))
    truncated.writeInt32LE(truncated.length, 0)
    await expectClosedAfter(truncated)
    await expectDriverStillWorks()
  })

  it('closes on invalid BSON element types', async () => {
    const doc = Buffer.from(BSON.serialize({ ping: 1, $db: 'admin' }))
    doc[4] = 0x77 // not a BSON type
    const rest = Buffer.concat([Buffer.alloc(4), Buffer.from([0]), doc])
    await expectClosedAfter(Buffer.concat([header(16 + rest.length, 1, 2013), rest]))
    await expectDriverStillWorks()
  })

  it('keeps serving a driver client while another socket sends garbage', async () => {
    const other = await MongoClient.connect(mongo.uri)
    try {
      const garbage = await open()
      garbage.on('error', () => undefined)
      const closed = once(garbage, 'close')
      garbage.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
      await closed
      expect(await other.db(mongo.db.databaseName).collection('wire').countDocuments()).toBeGreaterThanOrEqual(0)
      await expectDriverStillWorks()
    } finally {
      await other.close()
    }
  })
})

describe('raw messages', () => {
  it('answers OP_MSG and a message split across many writes', async () => {
    const socket = await open()
    try {
      const msg = opMsg({ ping: 1, $db: 'admin' }, 0, 77)
      for (const byte of msg) socket.write(Buffer.from([byte]))
      const reply = (await nextReply(socket))!
      expect(reply.readInt32LE(8)).toBe(77)
      expect(msgBody(reply)).toMatchObject({ ok: 1 })
    } finally {
      socket.destroy()
    }
  })

  it('sends no reply to a moreToCome message, and answers the next one', async () => {
    const socket = await open()
    try {
      socket.write(opMsg({ insert: 'wire', documents: [{ moreToCome: true }], $db: mongo.db.databaseName, writeConcern: { w: 0 } }, 2, 1))
      socket.write(opMsg({ ping: 1, $db: 'admin' }, 0, 2))
      const reply = (await nextReply(socket))!
      expect(reply.readInt32LE(8)).toBe(2)
      expect(await mongo.db.collection('wire').countDocuments({ moreToCome: true })).toBe(1)
    } finally {
      socket.destroy()
    }
  })
})

describeEmbeddedOnly('embedded codec details', () => {
  it('answers a legacy OP_QUERY hello with OP_REPLY', async () => {
    const socket = await open()
    try {
      const query = BSON.serialize({ isMaster: 1 })
      const name = Buffer.from('admin.$cmd\0')
      const rest = Buffer.concat([Buffer.alloc(4), name, Buffer.from(Int32Array.of(0, -1).buffer), query])
      socket.write(Buffer.concat([header(16 + rest.length, 9, 2004), rest]))
      const reply = (await nextReply(socket))!
      expect(reply.readInt32LE(12)).toBe(1)
      expect(reply.readInt32LE(8)).toBe(9)
      expect(reply.readInt32LE(32)).toBe(1)
      expect(BSON.deserialize(reply.subarray(36))).toMatchObject({ ismaster: true, setName: 'rs0', ok: 1 })
    } finally {
      socket.destroy()
    }
  })

  it('accepts a message carrying a checksum', async () => {
    const socket = await open()
    try {
      const plain = opMsg({ ping: 1, $db: 'admin' }, 1, 5)
      const withSum = Buffer.concat([plain, Buffer.alloc(4)])
      withSum.writeInt32LE(withSum.length, 0)
      socket.write(withSum)
      expect(msgBody((await nextReply(socket))!)).toMatchObject({ ok: 1 })
    } finally {
      socket.destroy()
    }
  })
})

describe('command line', () => {
  it('prints the URI once listening, serves clients and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/embedded/cli.ts', '--port', '0', '--oplog-max-entries', '50'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      const lines = createInterface({ input: child.stdout! })
      const [line] = (await Promise.race([
        once(lines, 'line'),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no URI line')), 30_000)),
      ])) as [string]
      const uri = /mongodb:\/\/127\.0\.0\.1:\d+\/\?replicaSet=rs0/.exec(line)?.[0]
      expect(uri).toBeDefined()
      const client = await MongoClient.connect(uri!)
      await client.db('cli').collection('c').insertOne({ a: 1 })
      expect(await client.db('cli').collection('c').countDocuments()).toBe(1)
      await client.close()
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const [code] = await exited
      expect(code).toBe(0)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('rejects bad arguments with one line on stderr and exit code 2', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/embedded/cli.ts', '--port', 'nope'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const [code] = await once(child, 'exit')
    expect(code).toBe(2)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).toMatch(/--port/)
  })
})
