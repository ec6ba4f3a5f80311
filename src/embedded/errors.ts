/** MongoDB error codes the embedded server raises, with their codeNames. */
import { MongoCommandError } from './types.js'

export const ErrorCode = {
  InternalError: 1,
  BadValue: 2,
  NoSuchKey: 4,
  FailedToParse: 9,
  TypeMismatch: 14,
  IllegalOperation: 20,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  PathNotViable: 28,
  ConflictingUpdateOperators: 40,
  CursorNotFound: 43,
  NamespaceExists: 48,
  MaxTimeMSExpired: 50,
  DollarPrefixedFieldName: 52,
  CommandNotFound: 59,
  ImmutableField: 66,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  NotWritablePrimary: 10107,
  InvalidIdField: 53,
  NoMatchingDocument: 47,
  Location40352: 40352,
  OperationNotSupportedInTransaction: 263,
  BSONObjectTooLarge: 10334,
  DuplicateKey: 11000,
  Location17419: 17419,
  InvalidPipelineOperator: 168,
  Location15973: 15973,
  ShutdownInProgress: 91,
  Unauthorized: 13,
  HostUnreachable: 6,
  HostNotFound: 7,
  NetworkTimeout: 89,
  SocketException: 9001,
  WriteConcernFailed: 64,
  UnsatisfiableWriteConcern: 100,
  WriteConflict: 112,
  FailedToSatisfyReadPreference: 133,
  CappedPositionLost: 136,
  StaleEpoch: 150,
  PrimarySteppedDown: 189,
  RetryChangeStream: 234,
  CursorKilled: 237,
  NoSuchTransaction: 251,
  TransactionCommitted: 256,
  TransactionTooOld: 225,
  ConflictingOperationInProgress: 117,
  SnapshotTooOld: 239,
  DocumentValidationFailure: 121,
  InvalidUUID: 207,
  ExceededTimeLimit: 262,
  ChangeStreamFatalError: 280,
  ChangeStreamHistoryLost: 286,
  CursorInUse: 292,
  InterruptedAtShutdown: 11600,
  Interrupted: 11601,
  InterruptedDueToReplStateChange: 11602,
  NotPrimaryNoSecondaryOk: 13435,
  NotPrimaryOrSecondary: 13436,
  Location51024: 51024,
  CommandNotSupported: 115,
  Location40324: 40324,
  CannotCreateIndex: 67,
  Location40602: 40602,
  Location40415: 40415,
  InvalidIndexSpecificationOption: 197,
  FailPointSetFailed: 266,
  StaleShardVersion: 63,
  StaleConfig: 13388,
  ReadConcernMajorityNotAvailableYet: 134,
} as const

const names = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]))

/** MongoDB's codeName for a code ('Location<code>' for the numbered assertion codes). */
export function codeName(code: number): string {
  const name = names.get(code)
  if (name && !name.startsWith('Location')) return name
  return `Location${code}`
}

export function mongoError(code: number, message: string, errorLabels: readonly string[] = []): MongoCommandError {
  return new MongoCommandError(code, codeName(code), message, errorLabels)
}

export const badValue = (message: string) => mongoError(ErrorCode.BadValue, message)
export const typeMismatch = (message: string) => mongoError(ErrorCode.TypeMismatch, message)
export const failedToParse = (message: string) => mongoError(ErrorCode.FailedToParse, message)
