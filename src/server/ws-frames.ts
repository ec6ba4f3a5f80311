import type { ExecutionResult } from 'graphql'

/**
 * Serialize once, splice per subscription. graphql-ws builds every `next` frame with `JSON.stringify` of
 * `{ id, type, payload }`, so a result shared by many subscriptions (src/schema/shared-execution.ts) would be
 * serialized once per subscription. Instead, `onNext` returns a {@link PreparedPayload}: graphql-ws serializes it
 * as a short marker, and the socket's `send` ({@link spliceFrame}), called synchronously right after, replaces the
 * marker with the payload's JSON, serialized once per result object.
 */

const MARKER = '\u0000changegate:prepared-payload'
/** How the marker ends a frame: `…,"payload":"<marker>"}`. */
const MARKED_END = `${JSON.stringify(MARKER)}}`

/**
 * Where a result keeps its JSON once serialized: a property of the result itself (symbol-keyed and not enumerable,
 * so no serializer or copy sees it), not a process-wide WeakMap. A result lives as long as its event's memo; a
 * WeakMap with that many live keys costs more to insert into (and to collect) than the serialization it saves.
 */
const JSON_OF: unique symbol = Symbol('changegate.payloadJson')
type Serialized = ExecutionResult & { [JSON_OF]?: string }
/** The JSON of the payload graphql-ws has just serialized as the marker, until `send` takes it. */
let pending: string | undefined

/** A `next` payload whose JSON is already known. graphql-ws requires an object; it serializes it as the marker. */
export class PreparedPayload {
  constructor(private readonly json: string) {}
  toJSON(): string {
    pending = this.json
    return MARKER
  }
}

/**
 * The payload of a `next` frame for an error-free result, serialized on first use and shared by every frame that
 * carries the same result object. Undefined when the result must go through graphql-ws's own formatting.
 */
export function preparePayload(result: ExecutionResult): PreparedPayload | undefined {
  if (result.errors !== undefined) return undefined
  return new PreparedPayload(payloadJson(result))
}

/** The JSON of an error-free result, serialized on first use and shared by every frame that carries it. */
export function payloadJson(result: ExecutionResult): string {
  const held = result as Serialized
  let json = held[JSON_OF]
  if (json === undefined) {
    json = JSON.stringify(result)
    // Not enumerable: the result stays what its subscribers (and any plugin) see, spread and compare.
    Object.defineProperty(held, JSON_OF, { value: json })
  }
  return json
}

/**
 * How a `next` frame for one subscription begins: `{"id":<id>,"type":"next","payload":`. The frame is this, the
 * payload's JSON and `}`: byte for byte what graphql-ws's `stringifyMessage` writes for `{ id, type, payload }`.
 */
export function nextFramePrefix(id: string): string {
  return `{"id":${JSON.stringify(id)},"type":"next","payload":`
}

/** The frame to write for what graphql-ws asked to send: the marker replaced by the prepared payload's JSON. */
export function spliceFrame(data: string): string {
  const json = pending
  if (json === undefined) return data
  pending = undefined
  if (!data.endsWith(MARKED_END)) return data
  return `${data.slice(0, data.length - MARKED_END.length)}${json}}`
}
