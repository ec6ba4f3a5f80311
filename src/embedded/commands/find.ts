/** Read commands: find, count, distinct. */
import { type Document } from 'bson'
import { Aggregator } from 'mingo'
import { toLoose } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import { nsString } from '../storage/collection.js'
import { selectRecords } from '../storage/find.js'
import { MINGO_OPTIONS, asMongoError, projectDocuments } from '../storage/query.js'
import { boolArg, collectionNs, documentArg, numberArg } from './args.js'
import type { Handler, HandlerTable } from './context.js'
import { firstBatchReply } from './cursor-commands.js'
import { checkCollation, checkQueryOptions } from './query-options.js'

function nonNegative(cmd: Document, field: string): number | undefined {
  const n = numberArg(cmd, field)
  if (n !== undefined && n < 0) throw mongoError(ErrorCode.BadValue, `${field} value must be non-negative, but received: ${n}`)
  return n
}

const find: Handler = (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  checkQueryOptions('find', cmd, server.storage.getCollection(ns), ns)
  const filter = documentArg(cmd, 'filter')
  const sort = documentArg(cmd, 'sort')
  const projection = documentArg(cmd, 'projection')
  const skip = nonNegative(cmd, 'skip')
  let limit = numberArg(cmd, 'limit')
  let singleBatch = boolArg(cmd, 'singleBatch', false)
  if (limit !== undefined && limit < 0) {
    // Legacy negative limit: one batch of |limit| documents.
    limit = -limit
    singleBatch = true
  }
  const batchSize = nonNegative(cmd, 'batchSize')
  const records = selectRecords(server.storage.getCollection(ns), filter, { sort, skip, limit })
  const docs = records.map((rec) => rec.doc)
  return firstBatchReply(server, nsString(ns), docs, {
    batchSize: limit && (batchSize === undefined || batchSize > limit) ? limit : batchSize,
    singleBatch,
    transform: projection ? (batch) => projectDocuments(batch, projection) : undefined,
    originatingCommand: cmd,
  })
}

const count: Handler = (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  checkQueryOptions('count', cmd, server.storage.getCollection(ns), ns)
  const query = documentArg(cmd, 'query')
  const skip = nonNegative(cmd, 'skip')
  const limit = numberArg(cmd, 'limit')
  const records = selectRecords(server.storage.getCollection(ns), query, { skip, limit: limit ? Math.abs(limit) : undefined })
  return { n: records.length }
}

const distinct: Handler = (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  if (typeof cmd.key !== 'string') throw mongoError(ErrorCode.TypeMismatch, "BSON field 'distinct.key' is missing but a required field")
  checkCollation('distinct', cmd.collation)
  const records = selectRecords(server.storage.getCollection(ns), documentArg(cmd, 'query'))
  const key = cmd.key
  try {
    // Array values contribute their elements, as in MongoDB.
    const pipeline = [
      { $project: { _id: 0, v: `$${key}` } },
      { $unwind: { path: '$v' } },
      { $group: { _id: null, values: { $addToSet: '$v' } } },
    ]
    const views = records.map((rec) => (rec.wrapped ? (toLoose(rec.doc) as Document) : rec.doc))
    const [result] = new Aggregator(pipeline, MINGO_OPTIONS).run(views) as Document[]
    const values = (result?.values as unknown[] | undefined) ?? []
    return { values: sortValues(values) }
  } catch (error) {
    throw asMongoError(error)
  }
}

function sortValues(values: unknown[]): unknown[] {
  try {
    const sorted = new Aggregator([{ $sort: { v: 1 } }], MINGO_OPTIONS).run(values.map((v) => ({ v }))) as Document[]
    return sorted.map((d) => d.v)
  } catch {
    return values
  }
}

export const findCommands: HandlerTable = { find, count, distinct }
