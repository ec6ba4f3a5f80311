/**
 * Options of `create` and `collMod`: the ones the embedded server enforces are checked and stored; the ones it
 * does not implement are refused by name, never stored and ignored; anything else is MongoDB's unknown-field error.
 */
import type { Document } from 'bson'
import { isPlainObject, toLoose } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import { parseValidationOptions } from '../storage/validation.js'

/** Options MongoDB 7.0 knows that the embedded server does not implement. */
const NOT_IMPLEMENTED = new Set([
  'capped', 'size', 'max', 'timeseries', 'expireAfterSeconds', 'clusteredIndex', 'collation', 'storageEngine',
  'indexOptionDefaults', 'encryptedFields', 'viewOn', 'pipeline', 'autoIndexId', 'idIndex', 'temp', 'flags',
  'recordPreImages', 'cappedSize', 'cappedMax', 'prepareUnique', 'forceNonUnique', 'dryRun', 'timeseriesBucketsMayHaveMixedSchemaData',
])

const CREATE_OPTIONS = new Set(['validator', 'validationLevel', 'validationAction', 'changeStreamPreAndPostImages'])
const COLLMOD_OPTIONS = new Set([...CREATE_OPTIONS, 'index'])

/** Values of not-implemented options that mean "the default", which the server does implement. */
function isDefault(option: string, value: unknown): boolean {
  const v = toLoose(value)
  if (option === 'capped' || option === 'autoIndexId' || option === 'temp') return v === false || (option === 'autoIndexId' && v === true)
  if (option === 'collation') return isPlainObject(v) && v.locale === 'simple'
  return false
}

export const notImplemented = (command: string, option: string) =>
  mongoError(
    ErrorCode.CommandNotSupported,
    `The embedded server does not implement the '${option}' option of ${command}; run MongoDB to use it.`,
  )

function imagesOption(value: unknown): Document {
  if (!isPlainObject(value) || typeof value.enabled !== 'boolean') {
    throw mongoError(ErrorCode.TypeMismatch, "BSON field 'changeStreamPreAndPostImages.enabled' is missing but a required field")
  }
  return { enabled: value.enabled }
}

function checkFields(command: string, given: Document, known: Set<string>): void {
  for (const [option, value] of Object.entries(given)) {
    if (known.has(option) || isDefault(option, value)) continue
    if (NOT_IMPLEMENTED.has(option)) throw notImplemented(command, option)
    throw mongoError(ErrorCode.Location40415, `BSON field '${command}.${option}' is an unknown field.`)
  }
}

/** The options a new collection stores (and listCollections reports). */
export function createOptions(given: Document): Document {
  checkFields('create', given, CREATE_OPTIONS)
  const options: Document = {}
  parseValidationOptions('create', given, options)
  if (given.changeStreamPreAndPostImages !== undefined) {
    options.changeStreamPreAndPostImages = imagesOption(given.changeStreamPreAndPostImages)
  }
  return options
}

/** The collection's options after `collMod` (the `index` option is applied by the caller). */
export function modifiedOptions(current: Document, given: Document): Document {
  checkFields('collMod', given, COLLMOD_OPTIONS)
  const options: Document = { ...current }
  parseValidationOptions('collMod', given, options)
  if (given.changeStreamPreAndPostImages !== undefined) {
    options.changeStreamPreAndPostImages = imagesOption(given.changeStreamPreAndPostImages)
  }
  return options
}
