/**
 * Document locks held by open transactions. A transaction locks every document it writes until it commits or
 * aborts: another transaction writing the document gets WriteConflict at once, a write outside any
 * transaction waits for the lock, as MongoDB's storage engine makes it retry until the transaction ends.
 */
import { ErrorCode, codeName } from '../errors.js'
import { MongoCommandError, type Namespace } from '../types.js'

export interface DocumentLocks {
  /** The transaction holding the lock on the document with this canonical `_id` key, if any. */
  holder(ns: Namespace, key: string): number | undefined
  acquire(ns: Namespace, key: string, owner: number): void
  /** Releases every lock of `owner` and wakes the writes that waited for them. */
  releaseAll(owner: number): void
  /** Resolves once `owner` holds no lock. */
  released(owner: number): Promise<void>
}

/** Raised by a write outside transactions that hit a locked document before it changed anything. */
export class DocumentLockedError extends MongoCommandError {
  constructor(readonly released: Promise<void>) {
    super(ErrorCode.WriteConflict, codeName(ErrorCode.WriteConflict), 'document is locked by an open transaction')
  }
}

export const isDocumentLocked = (error: unknown): error is DocumentLockedError => error instanceof DocumentLockedError

const lockKey = (ns: Namespace, key: string) => `${ns.db}.${ns.coll}\u0000${key}`

export function createDocumentLocks(): DocumentLocks {
  const holders = new Map<string, number>()
  const byOwner = new Map<number, { keys: string[]; waiters: Array<() => void> }>()
  return {
    holder: (ns, key) => (holders.size === 0 ? undefined : holders.get(lockKey(ns, key))),
    acquire(ns, key, owner) {
      const k = lockKey(ns, key)
      if (holders.get(k) === owner) return
      holders.set(k, owner)
      let held = byOwner.get(owner)
      if (!held) byOwner.set(owner, (held = { keys: [], waiters: [] }))
      held.keys.push(k)
    },
    releaseAll(owner) {
      const held = byOwner.get(owner)
      if (!held) return
      byOwner.delete(owner)
      for (const k of held.keys) holders.delete(k)
      for (const wake of held.waiters) wake()
    },
    released(owner) {
      const held = byOwner.get(owner)
      if (!held) return Promise.resolve()
      return new Promise((resolve) => held.waiters.push(resolve))
    },
  }
}
