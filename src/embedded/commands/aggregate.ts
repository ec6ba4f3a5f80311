/**
 * aggregate: `$changeStream` pipelines go to the change stream service; everything else runs through mingo
 * over the collection (with `$lookup` resolving collections of the same database).
 */
import type { Document } from 'bson'
import { Aggregator, ProcessingMode } from 'mingo'
import { deepCopy, isPlainObject, toLoose } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import { selectRecords } from '../storage/find.js'
import { MINGO_OPTIONS, asMongoError, type StoredRecord } from '../storage/query.js'
import type { Storage } from '../storage/storage.js'
import { documentArg, numberArg } from './args.js'
import type { Handler, HandlerTable } from './context.js'
import { firstBatchReply, registerCursorReply } from './cursor-commands.js'
import { notImplemented } from './collection-options.js'
import { GENERIC_FIELDS } from './collections.js'
import { currentOps } from './current-op.js'
import { checkCollation, checkQueryOptions } from './query-options.js'

const view = (rec: StoredRecord): Document => (rec.wrapped ? (toLoose(rec.doc) as Document) : rec.doc)
/** A stored document as a copy later stages may write into (mingo's `$set: {'joined.a': …}` writes in place). */
const copyOf = (rec: StoredRecord): Document => (rec.wrapped ? (toLoose(rec.doc) as Document) : deepCopy(rec.doc))

/**
 * Runs a pipeline over documents of database `db` (mingo). Inputs and the documents `$lookup`, `$graphLookup` and
 * `$unionWith` read are copies: stored documents are never written to.
 */
export function runPipeline(storage: Storage, db: string, input: Document[], pipeline: Document[]): Document[] {
  const options = {
    ...MINGO_OPTIONS,
    processingMode: ProcessingMode.CLONE_INPUT,
    collectionResolver: (name: string) => [...(storage.getCollection({ db, coll: name })?.records.values() ?? [])].map(copyOf),
  }
  try {
    return new Aggregator(toLoose(pipeline) as Document[], options).run(input) as Document[]
  } catch (error) {
    throw asMongoError(error)
  }
}

/** Fields an aggregate command may carry besides the generic ones. */
const AGGREGATE_FIELDS = new Set(['aggregate', 'pipeline', 'cursor', 'explain', 'allowDiskUse', 'bypassDocumentValidation', 'collation', 'hint', 'let'])

/** Refuses unknown fields, and options the server does not implement (for change streams: any but allowDiskUse). */
function checkAggregateFields(cmd: Document, changeStream: boolean): void {
  for (const field of Object.keys(cmd)) {
    if (GENERIC_FIELDS.has(field)) continue
    if (!AGGREGATE_FIELDS.has(field)) throw mongoError(ErrorCode.Location40415, `BSON field 'aggregate.${field}' is an unknown field.`)
  }
  if (cmd.let !== undefined) throw notImplemented('aggregate', 'let')
  if (!changeStream) return
  checkCollation('aggregate', cmd.collation)
  if (cmd.hint !== undefined) throw notImplemented('aggregate with $changeStream', 'hint')
  if (cmd.explain !== undefined) throw notImplemented('aggregate with $changeStream', 'explain')
}

const UNSUPPORTED_STAGES = new Set(['$out', '$merge', '$search', '$geoNear', '$collStats', '$indexStats'])

const aggregate: Handler = async (cmd, req, server) => {
  const pipeline = cmd.pipeline
  if (!Array.isArray(pipeline) || !pipeline.every(isPlainObject)) {
    throw mongoError(ErrorCode.TypeMismatch, "'pipeline' option must be specified as an array")
  }
  const stages = pipeline as Document[]
  const cursorOption = documentArg(cmd, 'cursor')
  if (!cursorOption && cmd.explain !== true) {
    throw mongoError(ErrorCode.FailedToParse, "The 'cursor' option is required, except for aggregate with the explain argument")
  }
  const batchSize = cursorOption ? numberArg(cursorOption, 'batchSize') : undefined

  const changeStream = stages[0] !== undefined && '$changeStream' in stages[0]
  checkAggregateFields(cmd, changeStream)
  if (changeStream) {
    const cursorId = server.cursors.nextId()
    const { cursor, firstBatch } = await server.changeStreams.open(cmd, req, cursorId)
    return registerCursorReply(server, cursor, firstBatch, cmd)
  }
  if (stages[0] && '$currentOp' in stages[0]) {
    const ops = currentOps(cmd, req, server)
    return firstBatchReply(server, `${req.db}.$cmd.aggregate`, runPipeline(server.storage, req.db, ops, stages.slice(1)), { batchSize, originatingCommand: cmd })
  }
  for (const stage of stages) {
    const name = Object.keys(stage)[0]
    if (name === '$currentOp') throw mongoError(ErrorCode.Location40602, '$currentOp is only valid as the first stage in a pipeline.')
    if (UNSUPPORTED_STAGES.has(name)) {
      throw mongoError(ErrorCode.CommandNotSupported, `${name} is not supported by the embedded server`)
    }
    if (name === '$changeStream') {
      throw mongoError(ErrorCode.Location40602, '$changeStream is only valid as the first stage in a pipeline.')
    }
  }

  let input: Document[]
  let ns: string
  let rest = stages
  if (typeof cmd.aggregate === 'string') {
    const coll = server.storage.getCollection({ db: req.db, coll: cmd.aggregate })
    checkQueryOptions('aggregate', cmd, coll, { db: req.db, coll: cmd.aggregate })
    // A leading $match narrows the input with the same selection find uses (`_id` lookups included).
    const first = stages[0]
    const filter = first && isPlainObject(first.$match) ? (first.$match as Document) : undefined
    if (filter) rest = stages.slice(1)
    input = selectRecords(coll, filter).map(view)
    ns = `${req.db}.${cmd.aggregate}`
  } else {
    if (!stages[0] || !('$documents' in stages[0])) {
      throw mongoError(ErrorCode.InvalidNamespace, "{aggregate: 1} is not valid for '$match'; a collection is required.")
    }
    input = []
    ns = `${req.db}.$cmd.aggregate`
  }
  if (cmd.explain === true) return { explainVersion: '1', stages: stages.map((stage) => ({ ...stage })), ns }
  const results = runPipeline(server.storage, req.db, input, rest)
  return firstBatchReply(server, ns, results, { batchSize, originatingCommand: cmd })
}

export const aggregateCommands: HandlerTable = { aggregate }
