/**
 * The `$currentOp` aggregation stage, as MongoDB 7.0 answers it on a replica set member: the running command
 * itself, each cursor with a getMore in progress (`type: 'op'`), and with `idleCursors: true` every other open
 * cursor (`type: 'idleCursor'`), each with `cursor.originatingCommand` (e.g. the aggregate with its `$changeStream`).
 * Connections and sessions are not tracked as operations: `idleConnections: true` is refused rather than
 * answered with nothing, and idle sessions (which MongoDB lists by default) are never reported.
 */
import type { Document } from 'bson'
import { isPlainObject } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import { asNumber } from './args.js'
import type { RequestContext, ServerParts } from './context.js'
import type { CursorInfo } from './cursors.js'
import { hostAndPort } from './handshake.js'

const BOOLEAN_OPTIONS = new Set(['allUsers', 'idleConnections', 'idleCursors', 'idleSessions', 'localOps', 'truncateOps'])

interface CurrentOpOptions {
  readonly idleCursors: boolean
}

function parseOptions(spec: unknown): CurrentOpOptions {
  if (!isPlainObject(spec)) {
    throw mongoError(ErrorCode.FailedToParse, '$currentOp options must be specified in an object, but found: ' + typeof spec)
  }
  for (const [field, value] of Object.entries(spec)) {
    if (!BOOLEAN_OPTIONS.has(field)) throw mongoError(ErrorCode.Location40415, `BSON field '$currentOp.${field}' is an unknown field.`)
    if (typeof value !== 'boolean') {
      throw mongoError(ErrorCode.TypeMismatch, `BSON field '$currentOp.${field}' is the wrong type '${typeof value}', expected type 'bool'`)
    }
  }
  if (spec.idleConnections === true) {
    throw mongoError(ErrorCode.CommandNotSupported, '$currentOp with idleConnections is not supported by the embedded server')
  }
  return { idleCursors: spec.idleCursors === true }
}

function cursorDocument(info: CursorInfo): Document {
  const changeStream = Array.isArray(info.originatingCommand?.pipeline) && '$changeStream' in ((info.originatingCommand.pipeline as Document[])[0] ?? {})
  const doc: Document = {
    cursorId: info.cursor.id,
    createdDate: new Date(info.createdAt),
    lastAccessDate: new Date(info.lastUsed),
    noCursorTimeout: false,
    tailable: changeStream,
    awaitData: changeStream,
  }
  if (info.originatingCommand) doc.originatingCommand = info.originatingCommand
  return doc
}

/** The documents `{ $currentOp: … }` produces as the first stage of `cmd`, before the rest of its pipeline runs. */
export function currentOps(cmd: Document, req: RequestContext, server: ServerParts): Document[] {
  if (req.db !== 'admin' || asNumber(cmd.aggregate) !== 1) {
    throw mongoError(ErrorCode.InvalidNamespace, "$currentOp must be run against the 'admin' database with {aggregate: 1}")
  }
  const options = parseOptions((cmd.pipeline as Document[])[0].$currentOp)
  const host = hostAndPort(server)
  const ops: Document[] = [
    {
      type: 'op',
      host,
      desc: `conn${req.connection.id}`,
      connectionId: req.connection.id,
      client: req.connection.remoteAddress,
      ...(req.connection.appName ? { appName: req.connection.appName } : {}),
      active: true,
      op: 'command',
      ns: 'admin.$cmd.aggregate',
      command: cmd,
    },
  ]
  for (const info of server.cursors.list()) {
    if (info.busy) {
      ops.push({ type: 'op', host, active: true, op: 'getmore', ns: info.cursor.ns, cursor: cursorDocument(info) })
    } else if (options.idleCursors) {
      ops.push({ type: 'idleCursor', host, active: false, ns: info.cursor.ns, cursor: cursorDocument(info) })
    }
  }
  return ops
}

