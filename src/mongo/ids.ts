/** A document id as a string: ObjectIds (of either bson build) as 24-hex, anything else as `String(value)`. */
export function idString(value: unknown): string {
  if (value && typeof (value as { toHexString?: unknown }).toHexString === 'function') {
    return (value as { toHexString(): string }).toHexString()
  }
  return String(value)
}
