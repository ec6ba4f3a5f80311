/**
 * Fault injection as MongoDB test servers offer it: `configureFailPoint: 'failCommand'` with a mode
 * (`alwaysOn`, `off`, `{ times }`, `{ skip }`) and data (`failCommands`, `errorCode`, `errorLabels`,
 * `closeConnection`, `blockConnection`/`blockTimeMS`, `appName`, `writeConcernError`).
 */
import type { Document } from 'bson'
import { badValue, codeName } from '../errors.js'
import { toLoose } from '../bson-values.js'

/** What dispatch must do for a command a failpoint caught. */
export interface FailAction {
  readonly closeConnection: boolean
  readonly blockTimeMS: number
  /** Error reply to send instead of running the command. */
  readonly error?: Document
  /** Added to the (successful) reply. */
  readonly writeConcernError?: Document
}

export interface Failpoints {
  /** Handles the `configureFailPoint` command body; returns the reply. */
  configure(cmd: Document): Document
  /** The action for a command about to run, counting it against the failpoint's mode; undefined: run normally. */
  check(commandName: string, appName: string | undefined, retryableWrite: boolean): FailAction | undefined
  readonly active: boolean
}

const RETRYABLE_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436])

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

export function createFailpoints(): Failpoints {
  let mode: Mode = { kind: 'off' }
  let data: Document = {}
  let entered = 0
  const others = new Map<string, Document>()

  return {
    configure(cmd) {
      const name = cmd.configureFailPoint
      if (typeof name !== 'string') throw badValue('configureFailPoint must be a failpoint name')
      const nextMode = parseMode(cmd.mode)
      if (name !== 'failCommand') {
        others.set(name, cmd)
        return { count: 0, ok: 1 }
      }
      const count = entered
      mode = nextMode
      data = (toLoose(cmd.data ?? {}) as Document) ?? {}
      entered = 0
      return { count, ok: 1 }
    },
    get active() {
      return mode.kind !== 'off'
    },
    check(commandName, appName, retryableWrite) {
      if (mode.kind === 'off') return undefined
      if (commandName === 'configureFailPoint') return undefined
      const commands = Array.isArray(data.failCommands) ? (data.failCommands as unknown[]) : []
      if (!commands.includes(commandName)) return undefined
      if (typeof data.appName === 'string' && data.appName !== appName) return undefined
      if (mode.kind === 'skip') {
        if (mode.left > 0) {
          mode.left--
          return undefined
        }
      } else if (mode.kind === 'times') {
        mode.left--
        if (mode.left <= 0) mode = { kind: 'off' }
      }
      entered++
      const errorCode = typeof data.errorCode === 'number' ? data.errorCode : undefined
      let labels = Array.isArray(data.errorLabels) ? (data.errorLabels as string[]) : undefined
      // As MongoDB does, retryable writes failing with a retryable code get the label unless labels were given.
      if (!labels && retryableWrite && errorCode !== undefined && RETRYABLE_CODES.has(errorCode)) labels = ['RetryableWriteError']
      const error =
        errorCode === undefined
          ? undefined
          : {
              ok: 0,
              errmsg: "Failing command via 'failCommand' failpoint",
              code: errorCode,
              codeName: codeName(errorCode),
              ...(labels && labels.length ? { errorLabels: labels } : {}),
            }
      return {
        closeConnection: data.closeConnection === true,
        blockTimeMS: data.blockConnection === true && typeof data.blockTimeMS === 'number' ? data.blockTimeMS : 0,
        error,
        writeConcernError: typeof data.writeConcernError === 'object' ? (data.writeConcernError as Document) : undefined,
      }
    },
  }
}
