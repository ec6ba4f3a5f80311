/**
 * Collection validators as MongoDB 7.0 enforces them: `validator` (query operators and `$jsonSchema`),
 * `validationLevel` (strict, moderate, off) and `validationAction` (error, warn). A failing write raises
 * DocumentValidationFailure (121) with `errInfo: { failingDocumentId, details }` in MongoDB's shape.
 */
import type { Document } from 'bson'
import { isPlainObject, toLoose } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import type { MongoCommandError } from '../types.js'
import type { Collection } from './collection.js'
import { compileJsonSchema } from './json-schema.js'
import { compileFilter, type StoredRecord } from './query.js'

type Clause = (doc: Document, wrapped: boolean) => Document | undefined

export const VALIDATION_LEVELS = ['off', 'strict', 'moderate'] as const
export const VALIDATION_ACTIONS = ['error', 'warn'] as const

const compiled = new WeakMap<Document, Clause>()

function fieldValue(doc: Document, path: string): unknown {
  let at: unknown = doc
  for (const part of path.split('.')) {
    if (!isPlainObject(at)) return undefined
    at = at[part]
  }
  return at
}

function compileClause(field: string, condition: unknown): Clause {
  if (field === '$jsonSchema') {
    const check = compileJsonSchema(condition)
    return (doc) => {
      const rules = check(doc)
      return rules.length ? { operatorName: '$jsonSchema', schemaRulesNotSatisfied: rules } : undefined
    }
  }
  const matches = compileFilter({ [field]: condition })
  const operators = isPlainObject(condition) ? Object.keys(condition).filter((k) => k.startsWith('$')) : []
  const operatorName = field.startsWith('$') ? field : operators.length === 1 ? operators[0] : operators.length ? '$and' : '$eq'
  return (doc, wrapped) => {
    if (matches(doc, wrapped)) return undefined
    if (field.startsWith('$')) return { operatorName, specifiedAs: { [field]: condition }, reason: 'expression did not match' }
    const value = fieldValue(doc, field)
    const details: Document = { operatorName, specifiedAs: { [field]: condition } }
    if (value === undefined) details.reason = 'field was missing'
    else Object.assign(details, { reason: 'comparison failed', consideredValue: value })
    return details
  }
}

/** Compiles a validator (MongoDB's parse errors for bad ones): returns the failure details of a document, if any. */
export function compileValidator(validator: Document): Clause {
  let clause = compiled.get(validator)
  if (clause) return clause
  const clauses = Object.entries(validator).map(([field, condition]) => compileClause(field, condition))
  clause =
    clauses.length === 1
      ? clauses[0]
      : (doc, wrapped) => {
          const failed = clauses.flatMap((check, index) => {
            const details = check(doc, wrapped)
            return details ? [{ index, details }] : []
          })
          return failed.length ? { operatorName: '$and', clausesNotSatisfied: failed } : undefined
        }
  compiled.set(validator, clause)
  return clause
}

function validationFailure(doc: Document, details: Document): MongoCommandError {
  const error = mongoError(ErrorCode.DocumentValidationFailure, 'Document failed validation')
  return Object.assign(error, { errInfo: { failingDocumentId: doc._id, details } })
}

/**
 * Checks a write against the collection's validator: `before` is the document an update replaces (undefined
 * for inserts). Moderate validation lets updates of documents that were already invalid through.
 */
export function validateWrite(coll: Collection, before: StoredRecord | undefined, after: StoredRecord, bypass: boolean): void {
  const validator = coll.options.validator as Document | undefined
  if (bypass || !validator || Object.keys(validator).length === 0) return
  const level = (coll.options.validationLevel as string | undefined) ?? 'strict'
  if (level === 'off' || coll.options.validationAction === 'warn') return
  const check = compileValidator(validator)
  if (level === 'moderate' && before && check(before.doc, before.wrapped)) return
  const details = check(after.doc, after.wrapped)
  if (details) throw validationFailure(after.doc, details)
}

/**
 * Reads validator, validationLevel and validationAction of create/collMod into `options`, checked as MongoDB does.
 * Level and action are stored only when given (MongoDB 7.0 keeps them optional; strict and error apply otherwise).
 */
export function parseValidationOptions(command: string, given: Document, options: Document): void {
  if (given.validator !== undefined) {
    if (!isPlainObject(given.validator)) {
      throw mongoError(ErrorCode.TypeMismatch, `BSON field '${command}.validator' is the wrong type, expected type 'object'`)
    }
    compileValidator(given.validator)
    options.validator = given.validator
  }
  for (const [field, values] of [['validationLevel', VALIDATION_LEVELS], ['validationAction', VALIDATION_ACTIONS]] as const) {
    const value = toLoose(given[field])
    if (value === undefined) continue
    if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
      throw mongoError(ErrorCode.BadValue, `Enumeration value '${String(value)}' for field '${command}.${field}' is not a valid value.`)
    }
    options[field] = value
  }
}
