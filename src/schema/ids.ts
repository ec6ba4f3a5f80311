import { ObjectId } from 'mongodb'
import { badUserInput } from '../errors.js'

const HEX24 = /^[0-9a-fA-F]{24}$/

export function parseObjectId(value: string, argument: string): ObjectId {
  if (!HEX24.test(value)) throw badUserInput(`${argument} must be a 24-character hex ObjectId`)
  return ObjectId.createFromHexString(value)
}

export function idString(value: unknown): string {
  if (value instanceof ObjectId) return value.toHexString()
  if (value && typeof (value as { toHexString?: unknown }).toHexString === 'function') {
    return (value as { toHexString(): string }).toHexString()
  }
  return String(value)
}
