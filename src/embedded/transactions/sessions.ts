/**
 * Sessions and their multi-document transactions, as MongoDB 7.0 runs them on a replica set primary: a
 * command with `autocommit: false` and `startTransaction: true` starts transaction `txnNumber` on session
 * `lsid`; later commands with the same number run in it; `commitTransaction` / `abortTransaction` end it.
 * A transaction that fails a command is aborted; one left open longer than transactionLifetimeLimitSeconds
 * (60 s) is aborted too.
 */
import { createHash } from 'node:crypto'
import { Binary, Long, type Document } from 'bson'
import { isPlainObject } from '../bson-values.js'
import type { Oplog } from '../changes/oplog.js'
import { ErrorCode, mongoError } from '../errors.js'
import type { Storage } from '../storage/storage.js'
import type { DocumentLocks } from './locks.js'
import { createSnapshotStorage, TRANSIENT, type SnapshotStorage } from './snapshot-storage.js'

const LIFETIME_MS = 60_000
/** What the server records as `lsid.uid` without authentication: the SHA-256 of the empty user name. */
const NO_USER_UID = new Binary(createHash('sha256').update('').digest())

/** Commands MongoDB 7.0 runs inside a transaction that the embedded server supports there. */
const ALLOWED_IN_TRANSACTION = new Set([
  'find', 'getMore', 'killCursors', 'insert', 'update', 'delete', 'findAndModify', 'findandmodify', 'aggregate', 'distinct',
])

export interface Transaction {
  readonly storage: Storage
  /** Aborts the transaction after a failed command. */
  abort(): void
}

export interface Transactions {
  /** The transaction a command with `autocommit` runs in, started by `startTransaction`; MongoDB's errors otherwise. */
  enter(cmd: Document, name: string): Transaction
  commit(cmd: Document): Document
  abort(cmd: Document): Document
  /** `endSessions`: their open transactions are aborted. */
  endSessions(lsids: unknown): void
  stop(): void
}

interface SessionState {
  txnNumber: number
  state: 'inProgress' | 'committed' | 'aborted'
  work?: SnapshotStorage & { owner: number; timer: NodeJS.Timeout; lsid: Document; txnNumber: Long }
}

const sessionKey = (lsid: unknown): string => {
  const id = isPlainObject(lsid) ? lsid.id : undefined
  if (!(id instanceof Binary)) throw mongoError(ErrorCode.InvalidUUID, 'lsid.id must be a UUID')
  return id.toString('hex')
}

function txnNumberOf(cmd: Document): number {
  const n = cmd.txnNumber
  if (n === undefined) throw mongoError(ErrorCode.InvalidOptions, "'autocommit' field requires a transaction number to also be specified")
  return n instanceof Long ? n.toNumber() : Number(n)
}

const noSuchTransaction = (message: string) => mongoError(ErrorCode.NoSuchTransaction, message, [TRANSIENT])

export function createTransactions(real: Storage, oplog: Oplog, locks: DocumentLocks): Transactions {
  const sessions = new Map<string, SessionState>()
  let nextOwner = 1

  const finish = (session: SessionState, state: 'committed' | 'aborted') => {
    const work = session.work
    session.state = state
    session.work = undefined
    if (!work) return
    clearTimeout(work.timer)
    try {
      if (state === 'committed') real.commitTransaction(work.ops, { lsid: work.lsid, txnNumber: work.txnNumber })
    } catch (error) {
      session.state = 'aborted'
      throw error
    } finally {
      locks.releaseAll(work.owner)
    }
  }

  const start = (session: SessionState, lsid: Document, txnNumber: number) => {
    if (session.work) finish(session, 'aborted')
    const owner = nextOwner++
    const snapshot = createSnapshotStorage(real, oplog, locks, owner, oplog.nextSeq - 1)
    const timer = setTimeout(() => {
      if (session.work?.owner === owner) finish(session, 'aborted')
    }, LIFETIME_MS)
    timer.unref()
    session.txnNumber = txnNumber
    session.state = 'inProgress'
    session.work = { ...snapshot, owner, timer, lsid: { id: lsid.id, uid: NO_USER_UID }, txnNumber: Long.fromNumber(txnNumber) }
  }

  /** The session's state for `txnNumber`, raising MongoDB's errors for stale or unknown numbers. */
  const current = (cmd: Document): SessionState => {
    const key = sessionKey(cmd.lsid)
    const n = txnNumberOf(cmd)
    const session = sessions.get(key)
    if (!session || n > session.txnNumber) {
      throw noSuchTransaction(
        `Given transaction number ${n} does not match any in-progress transactions. The active transaction number is ${session?.txnNumber ?? -1}`,
      )
    }
    if (n < session.txnNumber) {
      throw mongoError(ErrorCode.TransactionTooOld, `Cannot start transaction ${n} on session ${key} because a newer transaction ${session.txnNumber} has already started.`)
    }
    return session
  }

  return {
    enter(cmd, name) {
      if (cmd.autocommit !== false) throw mongoError(ErrorCode.InvalidOptions, 'Specifying autocommit=true is not allowed.')
      const n = txnNumberOf(cmd)
      const key = sessionKey(cmd.lsid)
      let session = sessions.get(key)
      if (cmd.startTransaction === true) {
        if (session && n < session.txnNumber) {
          throw mongoError(ErrorCode.TransactionTooOld, `Cannot start transaction ${n} on session ${key} because a newer transaction ${session.txnNumber} has already started.`)
        }
        if (session && n === session.txnNumber) {
          throw mongoError(ErrorCode.ConflictingOperationInProgress, `Cannot start a transaction at given transaction number ${n} a transaction with the same number is in state ${session.state}`)
        }
        if (!session) sessions.set(key, (session = { txnNumber: n, state: 'aborted' }))
        start(session, cmd.lsid as Document, n)
      } else {
        session = current(cmd)
        if (session.state === 'aborted') throw noSuchTransaction(`Transaction with { txnNumber: ${n} } has been aborted.`)
        if (session.state === 'committed') {
          throw mongoError(ErrorCode.TransactionCommitted, `Transaction with { txnNumber: ${n} } has been committed.`)
        }
      }
      const inTxn = session
      if (!ALLOWED_IN_TRANSACTION.has(name) || (name === 'aggregate' && hasChangeStream(cmd))) {
        finish(inTxn, 'aborted')
        throw mongoError(ErrorCode.OperationNotSupportedInTransaction, `Cannot run '${name}' in a multi-document transaction.`)
      }
      return { storage: inTxn.work!.storage, abort: () => inTxn.state === 'inProgress' && finish(inTxn, 'aborted') }
    },
    commit(cmd) {
      const session = current(cmd)
      const n = session.txnNumber
      if (session.state === 'aborted') throw noSuchTransaction(`Transaction with { txnNumber: ${n} } has been aborted.`)
      // Committing again is how drivers retry a commit: it succeeds once the transaction committed.
      if (session.state === 'inProgress') finish(session, 'committed')
      return {}
    },
    abort(cmd) {
      const session = current(cmd)
      const n = session.txnNumber
      if (session.state === 'committed') {
        throw mongoError(ErrorCode.TransactionCommitted, `Transaction with { txnNumber: ${n} } has been committed.`)
      }
      if (session.state === 'aborted') throw noSuchTransaction(`Transaction with { txnNumber: ${n} } has been aborted.`)
      finish(session, 'aborted')
      return {}
    },
    endSessions(lsids) {
      if (!Array.isArray(lsids)) return
      for (const lsid of lsids) {
        const key = isPlainObject(lsid) && lsid.id instanceof Binary ? lsid.id.toString('hex') : undefined
        const session = key === undefined ? undefined : sessions.get(key)
        if (!session) continue
        if (session.state === 'inProgress') finish(session, 'aborted')
        sessions.delete(key!)
      }
    },
    stop() {
      for (const session of sessions.values()) if (session.state === 'inProgress') finish(session, 'aborted')
    },
  }
}

function hasChangeStream(cmd: Document): boolean {
  const first: unknown = Array.isArray(cmd.pipeline) ? cmd.pipeline[0] : undefined
  return isPlainObject(first) && '$changeStream' in first
}
