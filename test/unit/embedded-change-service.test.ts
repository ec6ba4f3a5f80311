/**
 * The change stream service over a real oplog and a tiny in-memory store: what a client sees through
 * open/getMore, without sockets. (The same behaviours through the driver: test/integration/embedded-change-*.)
 */
import { Long, ObjectId, Timestamp, UUID, type Document } from 'bson'
import { describe, expect, it } from 'vitest'
import { DEFAULT_BATCH_LIMITS, type BatchLimits } from '../../src/embedded/changes/cursor.js'
import { createChangeStreams } from '../../src/embedded/changes/index.js'
import { createOplog } from '../../src/embedded/changes/oplog.js'
import { encodeToken, eventPoint } from '../../src/embedded/changes/tokens.js'
import type { CommandContext, Namespace, StorageView } from '../../src/embedded/types.js'

const DB = 'shop'

function createHarness(options: { maxEntries?: number; batchLimits?: BatchLimits } = {}) {
  const oplog = createOplog({ maxEntries: options.maxEntries ?? 10_000 })
  const docs = new Map<string, Document>()
  const imagesOn = new Set<string>()
  const key = (ns: Namespace, id: unknown) => `${ns.db}.${ns.coll}/${JSON.stringify(id)}`
  const storage: StorageView = {
    collectionInfo: (ns) => ({ uuid: new UUID(), changeStreamPreAndPostImages: imagesOn.has(`${ns.db}.${ns.coll}`) }),
    findByKey: (ns, documentKey) => docs.get(key(ns, documentKey._id)),
  }
  const service = createChangeStreams({ oplog, storage, batchLimits: options.batchLimits })
  const ns = (coll: string, db = DB): Namespace => ({ db, coll })
  const recorded = (n: Namespace) => imagesOn.has(`${n.db}.${n.coll}`)
  let cursorIds = 1

  const write = {
    enableImages(coll: string, db = DB) {
      imagesOn.add(`${db}.${coll}`)
    },
    insert(coll: string, doc: Document, db = DB) {
      const n = ns(coll, db)
      docs.set(key(n, doc._id), doc)
      return oplog.append({ op: 'insert', ns: n, documentKey: { _id: doc._id }, after: doc }, recorded(n))
    },
    update(coll: string, after: Document, db = DB, op: 'update' | 'replace' = 'update') {
      const n = ns(coll, db)
      const before = docs.get(key(n, after._id))!
      docs.set(key(n, after._id), after)
      return oplog.append({ op, ns: n, documentKey: { _id: after._id }, before, after }, recorded(n))
    },
    replace(coll: string, after: Document, db = DB) {
      return write.update(coll, after, db, 'replace')
    },
    delete(coll: string, id: unknown, db = DB) {
      const n = ns(coll, db)
      const before = docs.get(key(n, id))!
      docs.delete(key(n, id))
      return oplog.append({ op: 'delete', ns: n, documentKey: { _id: id }, before }, recorded(n))
    },
    drop(coll: string, db = DB) {
      return oplog.append({ op: 'drop', ns: ns(coll, db) }, false)
    },
    rename(from: string, to: string, db = DB, toDb = db) {
      return oplog.append({ op: 'rename', ns: ns(from, db), to: ns(to, toDb) }, false)
    },
    dropDatabase(db = DB) {
      return oplog.append({ op: 'dropDatabase', ns: { db } }, false)
    },
  }

  const open = (stage: Document, more: { coll?: string | 1; db?: string; pipeline?: Document[]; batchSize?: number } = {}) => {
    const ctx: CommandContext = { db: more.db ?? DB, connection: { id: 1, remoteAddress: 'test' } }
    const cmd: Document = {
      aggregate: more.coll ?? 'orders',
      pipeline: [{ $changeStream: stage }, ...(more.pipeline ?? [])],
      cursor: more.batchSize === undefined ? {} : { batchSize: more.batchSize },
    }
    return service.open(cmd, ctx, Long.fromNumber(cursorIds++))
  }

  return { oplog, service, write, open }
}

async function errorOf(promise: Promise<unknown>): Promise<{ code?: number; codeName?: string; message: string; errorLabels?: string[] }> {
  try {
    await promise
  } catch (error) {
    return error as { code?: number; message: string }
  }
  throw new Error('expected an error')
}

const order = (n: number, extra: Document = {}) => ({ _id: n, status: 'pending', total: n * 10, ...extra })
const data = (batch: { postBatchResumeToken?: Document }) => (batch.postBatchResumeToken as { _data: string })._data
const idData = (event: Document) => (event._id as { _data: string })._data

describe('change stream events', () => {
  it('reports inserts, updates, replaces and deletes with MongoDB fields in MongoDB order', async () => {
    const { write, open } = createHarness()
    const { cursor } = await open({})
    write.insert('orders', order(1))
    write.update('orders', order(1, { status: 'shipped' }))
    write.replace('orders', { _id: 1, replaced: true })
    write.delete('orders', 1)
    const { docs } = await cursor.getMore(undefined, 100)
    expect(docs.map((d) => d.operationType)).toEqual(['insert', 'update', 'replace', 'delete'])
    expect(Object.keys(docs[0])).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime', 'fullDocument', 'ns', 'documentKey'])
    expect(docs[0]).toMatchObject({ fullDocument: order(1), ns: { db: DB, coll: 'orders' }, documentKey: { _id: 1 } })
    expect(docs[0].clusterTime).toBeInstanceOf(Timestamp)
    expect(docs[0].wallTime).toBeInstanceOf(Date)
    expect(Object.keys(docs[1])).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime', 'ns', 'documentKey', 'updateDescription'])
    expect(docs[1].updateDescription).toEqual({ updatedFields: { status: 'shipped' }, removedFields: [], truncatedArrays: [] })
    expect(Object.keys(docs[2])).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime', 'fullDocument', 'ns', 'documentKey'])
    expect(docs[2].fullDocument).toEqual({ _id: 1, replaced: true })
    expect(Object.keys(docs[3])).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime', 'ns', 'documentKey'])
    const tokens = docs.map(idData)
    expect([...tokens].sort()).toEqual(tokens)
  })

  it('ends a collection stream with invalidate after its drop', async () => {
    const { write, open } = createHarness()
    const { cursor } = await open({})
    write.drop('orders')
    write.insert('orders', order(2))
    const batch = await cursor.getMore(undefined, 100)
    expect(batch.docs.map((d) => d.operationType)).toEqual(['drop', 'invalidate'])
    expect(Object.keys(batch.docs[0])).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime', 'ns'])
    expect(Object.keys(batch.docs[1])).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime'])
    expect(batch.docs[1].clusterTime).toEqual(batch.docs[0].clusterTime)
    expect(idData(batch.docs[1]) > idData(batch.docs[0])).toBe(true)
    expect(batch.exhausted).toBe(true)
    expect(data(batch)).toBe(idData(batch.docs[1]))
  })

  it('reports a rename with `to` first, then invalidates', async () => {
    const { write, open } = createHarness()
    const { cursor } = await open({})
    write.rename('orders', 'archive')
    const batch = await cursor.getMore(undefined, 100)
    expect(batch.docs.map((d) => d.operationType)).toEqual(['rename', 'invalidate'])
    expect(Object.keys(batch.docs[0])).toEqual(['to', '_id', 'operationType', 'clusterTime', 'wallTime', 'ns'])
    expect(batch.docs[0]).toMatchObject({ ns: { db: DB, coll: 'orders' }, to: { db: DB, coll: 'archive' } })
  })

  it('lets a database stream see drops and renames, and invalidates it on dropDatabase', async () => {
    const { write, open } = createHarness()
    const { cursor } = await open({}, { coll: 1 })
    write.insert('orders', order(1))
    write.insert('system.views', { _id: 'v' })
    write.insert('orders', order(9), 'otherdb')
    write.drop('orders')
    write.rename('users', 'people')
    write.drop('users')
    write.dropDatabase()
    const batch = await cursor.getMore(undefined, 100)
    expect(batch.docs.map((d) => d.operationType)).toEqual(['insert', 'drop', 'rename', 'drop', 'dropDatabase', 'invalidate'])
    expect(batch.docs[4].ns).toEqual({ db: DB })
    expect(batch.exhausted).toBe(true)
    expect(cursor.ns).toBe(`${DB}.$cmd.aggregate`)
  })

  it('never invalidates a cluster stream', async () => {
    const { write, open } = createHarness()
    const { cursor } = await open({ allChangesForCluster: true }, { coll: 1, db: 'admin' })
    write.insert('orders', order(1))
    write.insert('orders', order(2), 'other')
    write.insert('system.users', { _id: 'u' }, 'admin')
    write.drop('orders')
    write.dropDatabase()
    write.insert('orders', order(3))
    const batch = await cursor.getMore(undefined, 100)
    expect(batch.docs.map((d) => `${d.operationType}:${d.ns.db}`)).toEqual([
      `insert:${DB}`,
      'insert:other',
      `drop:${DB}`,
      `dropDatabase:${DB}`,
      `insert:${DB}`,
    ])
    expect(batch.exhausted).toBe(false)
  })

  it('shows a collection stream only its own collection', async () => {
    const { write, open } = createHarness()
    const { cursor } = await open({})
    write.insert('users', { _id: 'u1' })
    write.insert('orders', order(1), 'otherdb')
    write.insert('orders', order(2))
    write.dropDatabase('otherdb')
    const batch = await cursor.getMore(undefined, 100)
    expect(batch.docs.map((d) => d.documentKey?._id)).toEqual([2])
  })
})

describe('change stream batches', () => {
  it('waits for events and returns as soon as one is committed', async () => {
    const { write, open } = createHarness()
    const { cursor, firstBatch } = await open({})
    expect(firstBatch.docs).toEqual([])
    const started = Date.now()
    setTimeout(() => write.insert('orders', order(1)), 50)
    const batch = await cursor.getMore(undefined, 5_000)
    expect(batch.docs).toHaveLength(1)
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('returns an empty batch after maxTimeMS with a high-water mark between past and future events', async () => {
    const { write, open } = createHarness()
    const { cursor } = await open({})
    write.insert('orders', order(1))
    const first = await cursor.getMore(undefined, 1)
    write.insert('users', { _id: 'elsewhere' })
    const started = Date.now()
    const empty = await cursor.getMore(undefined, 120)
    expect(Date.now() - started).toBeGreaterThanOrEqual(100)
    expect(empty.docs).toEqual([])
    expect(data(empty) > idData(first.docs[0])).toBe(true)
    write.insert('orders', order(2))
    const next = await cursor.getMore(undefined, 100)
    expect(data(empty) < idData(next.docs[0])).toBe(true)
  })

  it('honours batchSize and never skips what did not fit', async () => {
    const { write, open } = createHarness()
    const { cursor } = await open({})
    for (let i = 1; i <= 5; i++) write.insert('orders', order(i))
    const sizes: number[] = []
    const ids: unknown[] = []
    for (let i = 0; i < 3; i++) {
      const batch = await cursor.getMore(2, 50)
      sizes.push(batch.docs.length)
      ids.push(...batch.docs.map((d) => d.documentKey._id))
    }
    expect(sizes).toEqual([2, 2, 1])
    expect(ids).toEqual([1, 2, 3, 4, 5])
  })

  it('fills the first batch from a resume point, up to cursor.batchSize', async () => {
    const { write, open } = createHarness()
    const start = write.insert('orders', order(1))
    write.insert('orders', order(2))
    write.insert('orders', order(3))
    const { firstBatch } = await open({ startAtOperationTime: start.ts }, { batchSize: 2 })
    expect(firstBatch.docs.map((d) => d.documentKey._id)).toEqual([1, 2])
    expect(data(firstBatch)).toBe(idData(firstBatch.docs[1]))
  })

  it('filters with user stages and refuses events whose _id a stage changed', async () => {
    const { write, open } = createHarness()
    const { cursor } = await open({}, { pipeline: [{ $match: { 'fullDocument.total': { $gte: 20 } } }] })
    write.insert('orders', order(1))
    write.insert('orders', order(2))
    expect((await cursor.getMore(undefined, 50)).docs.map((d) => d.fullDocument._id)).toEqual([2])

    const broken = await open({}, { pipeline: [{ $project: { _id: 0 } }] })
    write.insert('orders', order(3))
    const error = await errorOf(broken.cursor.getMore(undefined, 50))
    expect(error.code).toBe(280)
    expect(error.message).toContain('_id field, which contains the resume token, was modified')
  })
})

describe('change stream replies over a backlog', () => {
  /**
   * Reads until `count` events arrived: each batch's ids, and whether each postBatchResumeToken is its last event's
   * token (a batch that emptied the oplog may carry a later high-water mark instead).
   */
  async function drain(cursor: { getMore(batchSize?: number, maxTimeMS?: number): Promise<{ docs: Document[]; postBatchResumeToken?: Document }> }, count: number) {
    const batches: unknown[][] = []
    let tokensAreLastEvents = true
    while (batches.flat().length < count) {
      const batch = await cursor.getMore(undefined, 50)
      const last = batch.docs[batch.docs.length - 1]
      const done = batches.flat().length + batch.docs.length >= count
      if (last && (done ? data(batch) < idData(last) : data(batch) !== idData(last))) tokensAreLastEvents = false
      batches.push(batch.docs.map((d) => d.documentKey._id))
    }
    return { batches, tokensAreLastEvents }
  }
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

  it('splits a backlog into replies of at most the event cap, every event once and in order', async () => {
    const { write, open } = createHarness()
    const { cursor } = await open({})
    const total = DEFAULT_BATCH_LIMITS.events * 2 + 500
    for (let i = 1; i <= total; i++) write.insert('orders', order(i))
    const { batches, tokensAreLastEvents } = await drain(cursor, total)
    expect(batches.map((b) => b.length).every((n) => n <= DEFAULT_BATCH_LIMITS.events)).toBe(true)
    expect(batches.length).toBeGreaterThanOrEqual(3)
    expect(batches.flat()).toEqual(range(1, total))
    expect(tokensAreLastEvents).toBe(true)
  })

  it("keeps a client's smaller batchSize and caps a larger one, in the first batch too", async () => {
    const { write, open } = createHarness({ batchLimits: { events: 3, buildMs: 60_000, timedAfter: 1 } })
    const start = write.insert('orders', order(1))
    for (let i = 2; i <= 12; i++) write.insert('orders', order(i))
    const { cursor, firstBatch } = await open({ startAtOperationTime: start.ts }, { batchSize: 10 })
    expect(firstBatch.docs.map((d) => d.documentKey._id)).toEqual([1, 2, 3])
    expect(data(firstBatch)).toBe(idData(firstBatch.docs[2]))
    expect((await cursor.getMore(2, 50)).docs.map((d) => d.documentKey._id)).toEqual([4, 5])
    expect((await cursor.getMore(100, 50)).docs.map((d) => d.documentKey._id)).toEqual([6, 7, 8])
    const { batches } = await drain(cursor, 4)
    expect(batches).toEqual([[9, 10, 11], [12]])
  })

  it('sends a reply whose time is up with the events it has, and resumes from its token exactly after them', async () => {
    const { write, open } = createHarness({ batchLimits: { events: 1000, buildMs: 0, timedAfter: 1 } })
    const { cursor } = await open({}, { pipeline: [{ $match: { 'fullDocument.total': { $gte: 30 } } }] })
    for (let i = 1; i <= 6; i++) write.insert('orders', order(i))
    const first = await cursor.getMore(undefined, 50)
    expect(first.docs.map((d) => d.documentKey._id)).toEqual([3])
    expect(data(first)).toBe(idData(first.docs[0]))
    const { batches } = await drain(cursor, 3)
    expect(batches).toEqual([[4], [5], [6]])
    // A new stream resumed from the first reply's token reads on from the next event.
    const resumed = await open({ resumeAfter: first.postBatchResumeToken }, { pipeline: [{ $match: { 'fullDocument.total': { $gte: 30 } } }] })
    expect(resumed.firstBatch.docs.map((d) => d.documentKey._id)).toEqual([4])
  })

  it('takes timedAfter events into a reply before its time counts', async () => {
    const { write, open } = createHarness({ batchLimits: { events: 1000, buildMs: 0, timedAfter: 4 } })
    const { cursor } = await open({})
    for (let i = 1; i <= 10; i++) write.insert('orders', order(i))
    const { batches } = await drain(cursor, 10)
    expect(batches).toEqual([range(1, 4), range(5, 8), [9, 10]])
  })

  it('returns an empty first batch for batchSize 0 whatever the limits', async () => {
    const { write, open } = createHarness({ batchLimits: { events: 1000, buildMs: 0, timedAfter: 1 } })
    const start = write.insert('orders', order(1))
    const { cursor, firstBatch } = await open({ startAtOperationTime: start.ts }, { batchSize: 0 })
    expect(firstBatch.docs).toEqual([])
    expect((await cursor.getMore(undefined, 50)).docs.map((d) => d.documentKey._id)).toEqual([1])
  })
})

describe('change stream resume and failures', () => {
  it('resumes after an event token, an empty batch token and a start time, missing nothing', async () => {
    const { write, open } = createHarness()
    const { cursor } = await open({})
    write.insert('orders', order(1))
    const first = await cursor.getMore(1, 50)
    write.insert('orders', order(2))
    write.insert('orders', order(3))
    const resumed = await open({ resumeAfter: first.docs[0]._id })
    expect(resumed.firstBatch.docs.map((d) => d.documentKey._id)).toEqual([2, 3])
    const tail = await resumed.cursor.getMore(undefined, 20)
    const fromMark = await open({ resumeAfter: tail.postBatchResumeToken })
    write.insert('orders', order(4))
    expect((await fromMark.cursor.getMore(undefined, 50)).docs.map((d) => d.documentKey._id)).toEqual([4])
    const fromTime = await open({ startAtOperationTime: first.docs[0].clusterTime })
    expect(fromTime.firstBatch.docs.map((d) => d.documentKey._id)).toEqual([1, 2, 3, 4])
  })

  it('refuses resumeAfter an invalidate but starts a new stream after it with startAfter', async () => {
    const { write, open } = createHarness()
    const { cursor } = await open({})
    write.insert('orders', order(1))
    write.drop('orders')
    const batch = await cursor.getMore(undefined, 50)
    const [, drop, invalidate] = batch.docs
    const refused = await errorOf(open({ resumeAfter: invalidate._id }))
    expect([refused.code, refused.codeName]).toEqual([260, 'InvalidResumeToken'])
    const again = await open({ resumeAfter: drop._id })
    expect(again.firstBatch.docs.map((d) => d.operationType)).toEqual(['invalidate'])
    expect(again.firstBatch.exhausted).toBe(true)
    write.insert('orders', order(5))
    const after = await open({ startAfter: invalidate._id })
    expect(after.firstBatch.docs.map((d) => d.documentKey._id)).toEqual([5])
    expect(after.firstBatch.exhausted).toBe(false)
  })

  it('raises MongoDB errors for conflicting and malformed options', async () => {
    const { write, open } = createHarness()
    const token = (await open({})).firstBatch.postBatchResumeToken!
    write.insert('orders', order(1))
    const ts = new Timestamp({ t: 1, i: 1 })
    const cases: Array<[Document, number, Document?]> = [
      [{ resumeAfter: token, startAfter: token }, 50865],
      [{ resumeAfter: token, startAtOperationTime: ts }, 40674],
      [{ startAfter: token, startAtOperationTime: ts }, 40674],
      [{ resumeAfter: { _data: 'not hex' } }, 9],
      [{ resumeAfter: {} }, 40647],
      [{ fullDocument: 'sometimes' }, 2],
      [{ fullDocument: 1 }, 14],
      [{ fullDocumentBeforeChange: 'always' }, 2],
      [{ colour: 'blue' }, 40415],
      [{ allChangesForCluster: true }, 72],
      [{}, 73, { coll: 1, db: 'admin' }],
      [{}, 73, { coll: 'system.views' }],
    ]
    for (const [stage, code, more] of cases) {
      expect((await errorOf(open(stage, more))).code, JSON.stringify(stage)).toBe(code)
    }
    const unknown = await errorOf(open({ resumeAfter: { _data: encodeToken(eventPoint(ts, 99)) } }))
    expect([unknown.code, unknown.codeName]).toEqual([280, 'ChangeStreamFatalError'])
    expect(unknown.message).toContain('the resume token was not found')
  })

  it('reports history lost when resuming before the retained oplog, and for a cursor left behind', async () => {
    const { write, open } = createHarness({ maxEntries: 5 })
    const { cursor } = await open({})
    write.insert('orders', order(1))
    const first = await cursor.getMore(1, 50)
    const lagging = await open({})
    for (let i = 2; i <= 10; i++) write.insert('orders', order(i))
    const lost = await errorOf(open({ resumeAfter: first.docs[0]._id }))
    expect([lost.code, lost.codeName, lost.errorLabels]).toEqual([286, 'ChangeStreamHistoryLost', ['NonResumableChangeStreamError']])
    expect((await errorOf(open({ startAtOperationTime: first.docs[0].clusterTime }))).code).toBe(286)
    const behind = await errorOf(lagging.cursor.getMore(undefined, 50))
    expect(behind.code).toBe(286)
  })

  it('fails pending and later getMores with a resumable error on step-down', async () => {
    const { service, write, open } = createHarness()
    const { cursor } = await open({})
    const pending = cursor.getMore(undefined, 5_000)
    service.stepDown()
    const error = await errorOf(pending)
    expect([error.code, error.codeName, error.errorLabels]).toEqual([
      11602,
      'InterruptedDueToReplStateChange',
      ['ResumableChangeStreamError'],
    ])
    expect((await errorOf(cursor.getMore(undefined, 10))).code).toBe(11602)
    const idle = await open({})
    service.stepDown()
    write.insert('orders', order(1))
    expect((await errorOf(idle.cursor.getMore(undefined, 10))).code).toBe(11602)
  })

  it('fails a waiting getMore with CursorKilled when the cursor is closed', async () => {
    const { open } = createHarness()
    const { cursor } = await open({})
    const pending = cursor.getMore(undefined, 5_000)
    cursor.close()
    expect((await errorOf(pending)).code).toBe(237)
  })
})

describe('change stream images', () => {
  const customer = new ObjectId()
  const doc = (status: string) => ({ _id: 1, customer, status })

  it('leaves images null when the collection does not record them, and errors when they are required', async () => {
    const { write, open } = createHarness()
    write.insert('orders', doc('new'))
    const lenient = await open({ fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable' })
    const strictPost = await open({ fullDocument: 'required' })
    const strictPre = await open({ fullDocumentBeforeChange: 'required' })
    write.update('orders', doc('paid'))
    const [event] = (await lenient.cursor.getMore(undefined, 50)).docs
    expect(Object.keys(event)).toEqual([
      '_id',
      'operationType',
      'clusterTime',
      'wallTime',
      'fullDocument',
      'ns',
      'documentKey',
      'updateDescription',
      'fullDocumentBeforeChange',
    ])
    expect([event.fullDocument, event.fullDocumentBeforeChange]).toEqual([null, null])
    const post = await errorOf(strictPost.cursor.getMore(undefined, 50))
    expect([post.code, post.codeName]).toEqual([47, 'NoMatchingDocument'])
    expect(post.message).toContain('Change stream was configured to require a post-image for all update events')
    const pre = await errorOf(strictPre.cursor.getMore(undefined, 50))
    expect(pre.message).toContain('require a pre-image for all update, delete and replace events')
  })

  it('reports the images recorded at commit when the collection records them', async () => {
    const { write, open } = createHarness()
    write.enableImages('orders')
    write.insert('orders', doc('new'))
    const { cursor } = await open({ fullDocument: 'required', fullDocumentBeforeChange: 'required' })
    write.update('orders', doc('paid'))
    write.update('orders', doc('shipped'))
    write.delete('orders', 1)
    const { docs } = await cursor.getMore(undefined, 50)
    expect(docs.map((d) => [d.fullDocument?.status, d.fullDocumentBeforeChange.status])).toEqual([
      ['paid', 'new'],
      ['shipped', 'paid'],
      [undefined, 'shipped'],
    ])
    expect('fullDocument' in docs[2]).toBe(false)
  })

  it('looks up the current document for updateLookup, null once deleted', async () => {
    const { write, open } = createHarness()
    write.insert('orders', doc('new'))
    write.insert('orders', { _id: 2, status: 'new' })
    const { cursor } = await open({ fullDocument: 'updateLookup' })
    write.update('orders', doc('paid'))
    write.update('orders', doc('shipped'))
    write.update('orders', { _id: 2, status: 'gone soon' })
    write.delete('orders', 2)
    const { docs } = await cursor.getMore(undefined, 50)
    expect(docs.map((d) => d.fullDocument?.status ?? null)).toEqual(['shipped', 'shipped', null, null])
    expect('fullDocument' in docs[3]).toBe(false)
  })
})
