/**
 * Command dispatch: finds the handler, applies failpoints before it runs, turns failures into MongoDB error
 * replies and stamps every reply with the cluster time. Never throws.
 */
import { Binary, Long, type Document } from 'bson'
import { ErrorCode, mongoError } from '../errors.js'
import { MongoCommandError } from '../types.js'
import type { CommandHandler, ConnectionInfo, HandlerResult, RequestMeta } from '../wire/connection.js'
import type { HandlerTable, RequestContext, ServerParts } from './context.js'

const ZERO_HASH = new Binary(Buffer.alloc(20))
const ZERO_KEY = Long.fromInt(0)
/** Largest document MongoDB accepts in a message (16 MB plus 16 KB of command overhead). */
const MAX_INTERNAL_DOCUMENT = 16 * 1024 * 1024 + 16 * 1024
const WRITE_COMMANDS = new Set(['insert', 'update', 'delete', 'findAndModify', 'findandmodify'])
const TRANSACTION_COMMANDS = new Set(['commitTransaction', 'abortTransaction'])

/** The fields MongoDB adds to error replies besides errmsg/code/codeName/errorLabels (e.g. keyPattern). */
const EXTRA_ERROR_FIELDS = ['keyPattern', 'keyValue', 'errInfo'] as const

export function errorReply(error: unknown): Document {
  if (error instanceof MongoCommandError) {
    const reply: Document = { ok: 0, errmsg: error.message, code: error.code, codeName: error.codeName }
    if (error.errorLabels.length) reply.errorLabels = [...error.errorLabels]
    const extra = error as unknown as Record<string, unknown>
    for (const field of EXTRA_ERROR_FIELDS) if (extra[field] !== undefined) reply[field] = extra[field]
    return reply
  }
  const message = error instanceof Error ? error.message : String(error)
  return { ok: 0, errmsg: message, code: ErrorCode.InternalError, codeName: 'InternalError' }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

function isChangeStreamCommand(server: ServerParts, name: string, cmd: Document): boolean {
  if (name === 'getMore') return cmd.getMore instanceof Long && server.cursors.get(cmd.getMore)?.changeStream === true
  const first: unknown = name === 'aggregate' && Array.isArray(cmd.pipeline) ? cmd.pipeline[0] : undefined
  return typeof first === 'object' && first !== null && '$changeStream' in first
}

export function createDispatcher(server: ServerParts, table: HandlerTable): CommandHandler {
  const stamp = (reply: Document): Document => {
    const clusterTime = server.oplog.clusterTime
    reply.$clusterTime = { clusterTime, signature: { hash: ZERO_HASH, keyId: ZERO_KEY } }
    reply.operationTime = clusterTime
    return reply
  }

  const run = async (cmd: Document, connection: ConnectionInfo, meta: RequestMeta): Promise<HandlerResult> => {
    const name = Object.keys(cmd)[0] ?? ''
    const db = typeof cmd.$db === 'string' ? cmd.$db : 'admin'
    const req: RequestContext = { db, connection, name, largestDocument: meta.largestDocument }

    const action = server.failpoints.active
      ? server.failpoints.check(name, connection.appName, {
          retryableWrite: WRITE_COMMANDS.has(name) && cmd.txnNumber !== undefined,
          changeStream: isChangeStreamCommand(server, name, cmd),
        })
      : undefined
    if (action) {
      if (action.blockTimeMS > 0) await sleep(action.blockTimeMS, server.signal)
      if (action.closeConnection) return { kind: 'close' }
      if (action.error) return { kind: 'reply', doc: stamp({ ...action.error }) }
    }

    const handler = Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined
    if (!handler) throw mongoError(ErrorCode.CommandNotFound, `no such command: '${name}'`)
    if (meta.largestDocument > MAX_INTERNAL_DOCUMENT) {
      throw mongoError(
        ErrorCode.BSONObjectTooLarge,
        `BSONObj size: ${meta.largestDocument} (0x${meta.largestDocument.toString(16).toUpperCase()}) is invalid. Size must be between 0 and ${MAX_INTERNAL_DOCUMENT}(16MB)`,
      )
    }
    const txn = cmd.autocommit !== undefined && !TRANSACTION_COMMANDS.has(name) ? server.transactions.enter(cmd, name) : undefined
    let reply: Document
    try {
      reply = await handler(cmd, req, txn ? { ...server, storage: txn.storage } : server)
    } catch (error) {
      txn?.abort()
      throw error
    }
    // Any failed statement aborts the transaction it ran in.
    if (txn && reply.writeErrors) txn.abort()
    if (reply.ok === undefined) reply.ok = 1
    if (action?.writeConcernError) reply.writeConcernError = action.writeConcernError
    return { kind: 'reply', doc: stamp(reply) }
  }

  return async (cmd, connection, meta) => {
    try {
      return await run(cmd, connection, meta)
    } catch (error) {
      return { kind: 'reply', doc: stamp(errorReply(error)) }
    }
  }
}
