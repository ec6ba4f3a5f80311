/**
 * The errors a change stream raises, with MongoDB 7.0's codes, code names and labels.
 */
import { MongoCommandError } from '../types.js'

export const ErrorLabel = {
  resumable: 'ResumableChangeStreamError',
  nonResumable: 'NonResumableChangeStreamError',
} as const

const error = (code: number, codeName: string, message: string, labels: readonly string[] = []) =>
  new MongoCommandError(code, codeName, message, labels)

/** `Location<code>` is how the server names codes that have no symbolic name. */
export const locationError = (code: number, message: string) => error(code, `Location${code}`, message)

export const badValue = (message: string) => error(2, 'BadValue', message)
export const failedToParse = (message: string) => error(9, 'FailedToParse', message)
export const typeMismatch = (message: string) => error(14, 'TypeMismatch', message)
export const illegalOperation = (message: string) => error(20, 'IllegalOperation', message)
export const invalidOptions = (message: string) => error(72, 'InvalidOptions', message)
export const invalidNamespace = (message: string) => error(73, 'InvalidNamespace', message)
export const noMatchingDocument = (message: string) => error(47, 'NoMatchingDocument', message)
export const invalidResumeToken = (message: string) => error(260, 'InvalidResumeToken', message)

export const changeStreamFatal = (message: string) =>
  error(280, 'ChangeStreamFatalError', message, [ErrorLabel.nonResumable])

export const historyLost = () =>
  error(
    286,
    'ChangeStreamHistoryLost',
    'Resume of change stream was not possible, as the resume point may no longer be in the oplog.',
    [ErrorLabel.nonResumable],
  )

/** What a waiting or later getMore gets once the primary stepped down; the driver resumes from it. */
export const steppedDown = () =>
  error(11602, 'InterruptedDueToReplStateChange', 'operation was interrupted because of a primary step down', [
    ErrorLabel.resumable,
  ])

export const shuttingDown = () =>
  error(11600, 'InterruptedAtShutdown', 'interrupted at shutdown', [ErrorLabel.resumable])

export const cursorKilled = (id: string) => error(237, 'CursorKilled', `cursor id ${id} was killed`)
