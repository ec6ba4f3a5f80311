/**
 * Fault injection as MongoDB test servers offer it, for the two fail points drivers' tests use:
 * - `failCommand` with a mode (`alwaysOn`, `off`, `{ times }`, `{ skip }`) and data (`failCommands`,
 *   `errorCode`, `errorLabels`, `closeConnection`, `blockConnection`/`blockTimeMS`, `appName`,
 *   `writeConcernError`);
 * - `failGetMoreAfterCursorCheckout` with data `{ errorCode }`: the next getMore fails once its cursor is
 *   checked out, and the cursor is gone.
 * Any other name is refused with MongoDB's FailPointSetFailed (266), as for a fail point that does not exist.
 * Errors get the labels MongoDB adds: RetryableWriteError for retryable writes, ResumableChangeStreamError
 * for change stream commands, unless `errorLabels` lists them explicitly.
 */
import type { Document } from 'bson'
import { badValue, codeName, ErrorCode, mongoError } from '../errors.js'
import { toLoose } from '../bson-values.js'
import type { MongoCommandError } from '../types.js'

/** What dispatch must do for a command a failpoint caught. */
export interface FailAction {
  readonly closeConnection: boolean
  readonly blockTimeMS: number
  /** Error reply to send instead of running the command. */
  readonly error?: Document
  /** Added to the (successful) reply. */
  readonly writeConcernError?: Document
}

/** What kind of command is about to run, for the labels its injected error gets. */
export interface CommandKind {
  readonly retryableWrite: boolean
  readonly changeStream: boolean
}

export interface Failpoints {
  /** Handles the `configureFailPoint` command body; returns the reply. */
  configure(cmd: Document): Document
  /** The action for a command about to run, counting it against the failpoint's mode; undefined: run normally. */
  check(commandName: string, appName: string | undefined, kind: CommandKind): FailAction | undefined
  /** The error a getMore raises once it checked out its cursor, if `failGetMoreAfterCursorCheckout` is on. */
  afterCursorCheckout(changeStream: boolean): MongoCommandError | undefined
  readonly active: boolean
}

const RETRYABLE_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436])
/** Codes MongoDB labels ResumableChangeStreamError on change stream commands (retriable, network, stale routing). */
const RESUMABLE_CODES = new Set([...RETRYABLE_CODES, 63, 133, 134, 150, 234, 13388])

type Mode = { kind: 'off' } | { kind: 'alwaysOn' } | { kind: 'times'; left: number } | { kind: 'skip'; left: number }

function parseMode(mode: unknown): Mode {
  if (mode === 'off') return { kind: 'off' }
  if (mode === 'alwaysOn') return { kind: 'alwaysOn' }
  const m = toLoose(mode) as Document | undefined
  if (m && typeof m === 'object') {
    if (typeof m.times === 'number' && m.times >= 0) return m.times === 0 ? { kind: 'off' } : { kind: 'times', left: m.times }
    if (typeof m.skip === 'number' && m.skip >= 0) return { kind: 'skip', left: m.skip }
    if ('activationProbability' in m) return { kind: 'alwaysOn' }
  }
  throw badValue(`Invalid failpoint mode: ${JSON.stringify(mode)}`)
}

/** One fail point: its mode and data, and how often it fired. */
function createFailpoint() {
  let mode: Mode = { kind: 'off' }
  return {
    data: {} as Document,
    entered: 0,
    get on() {
      return mode.kind !== 'off'
    },
    set(next: Mode, data: Document) {
      const count = this.entered
      mode = next
      this.data = data
      this.entered = 0
      return count
    },
    /** Counts one evaluation against the mode; true when the fail point fires. */
    fire(): boolean {
      if (mode.kind === 'off') return false
      if (mode.kind === 'skip' && mode.left > 0) {
        mode.left--
        return false
      }
      if (mode.kind === 'times' && --mode.left <= 0) mode = { kind: 'off' }
      this.entered++
      return true
    },
  }
}

function labelsFor(data: Document, code: number, kind: CommandKind): string[] {
  if (Array.isArray(data.errorLabels)) return data.errorLabels as string[]
  if (kind.changeStream && RESUMABLE_CODES.has(code)) return ['ResumableChangeStreamError']
  if (kind.retryableWrite && RETRYABLE_CODES.has(code)) return ['RetryableWriteError']
  return []
}

export function createFailpoints(): Failpoints {
  const failCommand = createFailpoint()
  const failGetMore = createFailpoint()
  const byName: Record<string, ReturnType<typeof createFailpoint>> = {
    failCommand,
    failGetMoreAfterCursorCheckout: failGetMore,
  }

  return {
    configure(cmd) {
      const name = cmd.configureFailPoint
      if (typeof name !== 'string') throw badValue('configureFailPoint must be a failpoint name')
      const failpoint = Object.prototype.hasOwnProperty.call(byName, name) ? byName[name] : undefined
      if (!failpoint) throw mongoError(ErrorCode.FailPointSetFailed, `${name} not found`)
      const count = failpoint.set(parseMode(cmd.mode), (toLoose(cmd.data ?? {}) as Document) ?? {})
      return { count, ok: 1 }
    },
    get active() {
      return failCommand.on
    },
    check(commandName, appName, kind) {
      if (!failCommand.on || commandName === 'configureFailPoint') return undefined
      const data = failCommand.data
      const commands = Array.isArray(data.failCommands) ? (data.failCommands as unknown[]) : []
      if (!commands.includes(commandName)) return undefined
      if (typeof data.appName === 'string' && data.appName !== appName) return undefined
      if (!failCommand.fire()) return undefined
      const errorCode = typeof data.errorCode === 'number' ? data.errorCode : undefined
      let error: Document | undefined
      if (errorCode !== undefined) {
        const labels = labelsFor(data, errorCode, kind)
        error = { ok: 0, errmsg: "Failing command via 'failCommand' failpoint", code: errorCode, codeName: codeName(errorCode) }
        if (labels.length) error.errorLabels = labels
      }
      return {
        closeConnection: data.closeConnection === true,
        blockTimeMS: data.blockConnection === true && typeof data.blockTimeMS === 'number' ? data.blockTimeMS : 0,
        error,
        writeConcernError: typeof data.writeConcernError === 'object' ? (data.writeConcernError as Document) : undefined,
      }
    },
    afterCursorCheckout(changeStream) {
      if (!failGetMore.on || !failGetMore.fire()) return undefined
      const code = typeof failGetMore.data.errorCode === 'number' ? failGetMore.data.errorCode : 1
      const labels = labelsFor(failGetMore.data, code, { changeStream, retryableWrite: false })
      return mongoError(code, "Failing getMore via 'failGetMoreAfterCursorCheckout' failpoint", labels)
    },
  }
}
