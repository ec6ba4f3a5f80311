/** findAndModify: update or remove one document and return it (before or after). */
import type { Document } from 'bson'
import { ErrorCode, mongoError } from '../errors.js'
import { projectDocuments } from '../storage/query.js'
import { boolArg, collectionNs, documentArg } from './args.js'
import type { Handler, HandlerTable } from './context.js'
import { checkQueryOptions } from './query-options.js'
import { arrayFiltersArg, runStatement } from './write.js'
import { executeDelete, executeUpdate } from './write-ops.js'

const findAndModify: Handler = async (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  checkQueryOptions('findAndModify', cmd, server.storage.getCollection(ns), ns)
  const query = documentArg(cmd, 'query') ?? {}
  const sort = documentArg(cmd, 'sort')
  const fields = documentArg(cmd, 'fields')
  const remove = boolArg(cmd, 'remove', false)
  const returnNew = boolArg(cmd, 'new', false)
  const upsert = boolArg(cmd, 'upsert', false)
  const hasUpdate = cmd.update !== undefined && cmd.update !== null
  if (remove && hasUpdate) throw mongoError(ErrorCode.FailedToParse, 'Cannot specify both an update and remove=true')
  if (!remove && !hasUpdate) throw mongoError(ErrorCode.FailedToParse, 'Either an update or remove=true must be specified')
  if (remove && upsert) throw mongoError(ErrorCode.FailedToParse, 'Cannot specify both upsert=true and remove=true')
  if (remove && returnNew) {
    throw mongoError(ErrorCode.FailedToParse, "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document")
  }
  const shape = (doc: Document | undefined) => (doc ? (fields ? projectDocuments([doc], fields)[0] : doc) : null)

  if (remove) {
    const [removed] = await runStatement(() => executeDelete(server.storage, ns, query, 1, sort))
    return { lastErrorObject: { n: removed ? 1 : 0 }, value: shape(removed) }
  }
  const statement = {
    q: query,
    u: cmd.update,
    upsert,
    multi: false,
    arrayFilters: arrayFiltersArg(cmd),
    sort,
    bypassValidation: boolArg(cmd, 'bypassDocumentValidation', false),
  }
  const outcome = await runStatement(() => executeUpdate(server.storage, ns, statement))
  const lastErrorObject: Document = { n: outcome.n, updatedExisting: outcome.n > 0 && outcome.upsertedId === undefined }
  if (outcome.upsertedId !== undefined) lastErrorObject.upserted = outcome.upsertedId
  return { lastErrorObject, value: shape(returnNew ? outcome.after : outcome.before) }
}

export const findAndModifyCommands: HandlerTable = { findAndModify, findandmodify: findAndModify }
