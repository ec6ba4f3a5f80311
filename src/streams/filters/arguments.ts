import { ObjectId } from 'mongodb'
import { badUserInput } from '../../errors.js'

/** Checks on filter arguments shared by every part of the compiler. Each throws BAD_USER_INPUT naming the argument. */

export const MAX_TENANT_LENGTH = 128
export const MAX_STRING_LENGTH = 1024
/** `in`, `notIn`, `containsAny` and the shorthand lists hold 1–100 values (DESIGN §8). */
export const MAX_LIST_LENGTH = 100
export const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const HEX24 = /^[0-9a-fA-F]{24}$/

export function checkFilterObject(name: string, filter: unknown): Record<string, unknown> {
  if (filter === null || filter === undefined) return {}
  if (typeof filter !== 'object' || Array.isArray(filter)) throw badUserInput(`${name} must be an object`)
  return ownArguments(filter)
}

/**
 * The arguments a client set, without inherited properties: configured fields and shorthands may be named
 * `constructor` or `toString`, and GraphQL input objects inherit from Object.prototype.
 */
export const ownArguments = (input: object): Record<string, unknown> => Object.assign(Object.create(null) as Record<string, unknown>, input)

/** The tenant comes from a verified token; anything else here is a bug, not client input. */
export function checkTenant(tenant: unknown): string {
  if (typeof tenant !== 'string' || tenant.length === 0 || tenant.length > MAX_TENANT_LENGTH) {
    throw new TypeError('tenant must be a non-empty string of at most 128 characters')
  }
  return tenant
}

/** A list argument: absent (null/undefined) = no constraint; otherwise 1–100 entries. */
export function listArgument(name: string, value: unknown): unknown[] | undefined {
  if (value === null || value === undefined) return undefined
  if (!Array.isArray(value)) throw badUserInput(`${name} must be a list`)
  if (value.length === 0) throw badUserInput(`${name} must not be an empty list; omit it for no constraint`)
  if (value.length > MAX_LIST_LENGTH) throw badUserInput(`${name} must have at most ${MAX_LIST_LENGTH} entries`)
  return value
}

/** Entries of a list, each one of `allowed`, deduplicated and sorted. */
export function enumList<T extends string>(name: string, value: unknown, allowed: readonly T[]): T[] | undefined {
  const list = listArgument(name, value)
  if (!list) return undefined
  for (const entry of list) {
    if (typeof entry !== 'string' || !(allowed as readonly string[]).includes(entry)) {
      throw badUserInput(`${name} entries must be one of ${allowed.join(', ')}`)
    }
  }
  return [...new Set(list as T[])].sort()
}

/** Top-level field names: identifiers only (no `$`, no dots), at most 64 characters each. */
export function fieldNameList(name: string, value: unknown): string[] | undefined {
  const list = listArgument(name, value)
  if (!list) return undefined
  for (const entry of list) {
    if (typeof entry !== 'string' || !FIELD_NAME.test(entry)) {
      throw badUserInput(`${name} entries must be top-level field names matching ${FIELD_NAME.source}`)
    }
  }
  return [...new Set(list as string[])].sort()
}

export function objectIdArgument(name: string, value: unknown): ObjectId {
  if (typeof value !== 'string' || !HEX24.test(value)) throw badUserInput(`${name} must be a 24-character hex ObjectId`)
  return ObjectId.createFromHexString(value)
}

export function stringArgument(name: string, value: unknown): string {
  if (typeof value !== 'string') throw badUserInput(`${name} must be a string`)
  if (value.length > MAX_STRING_LENGTH) throw badUserInput(`${name} must be at most ${MAX_STRING_LENGTH} characters`)
  return value
}

export function numberArgument(name: string, value: unknown, integer: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw badUserInput(`${name} must be a finite number`)
  if (integer && !Number.isSafeInteger(value)) throw badUserInput(`${name} must be an integer`)
  return value === 0 ? 0 : value // -0 and 0 are one filter
}
