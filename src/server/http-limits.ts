import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode } from '../errors.js'
import { sendJSON } from './http-routes.js'
import { createKeyedLimit, type Release } from './limits.js'

/** Open SSE responses, bounded per client address and per tenant. */
export interface EventStreamLimit {
  /** Takes a slot under both keys, or none (undefined) when either is full. */
  acquire(address: string, tenant: string): Release | undefined
}

export function createEventStreamLimit(opts: { perAddress: number; perTenant: number }): EventStreamLimit {
  const byAddress = createKeyedLimit(opts.perAddress)
  const byTenant = createKeyedLimit(opts.perTenant)
  return {
    acquire(address, tenant) {
      const releaseAddress = byAddress.acquire(address)
      if (!releaseAddress) return undefined
      const releaseTenant = byTenant.acquire(tenant)
      if (!releaseTenant) {
        releaseAddress()
        return undefined
      }
      return () => {
        releaseAddress()
        releaseTenant()
      }
    },
  }
}

/** A request yoga answers with `text/event-stream` (GraphQL over SSE, distinct connections mode). */
export const isEventStreamRequest = (req: IncomingMessage) => (req.headers.accept ?? '').toLowerCase().includes('text/event-stream')

export const hasBody = (req: IncomingMessage) => req.method !== 'GET' && req.method !== 'HEAD'

/** True when the request announces (`Content-Length`) a body larger than `maxBytes`. */
export function declaredTooLarge(req: IncomingMessage, maxBytes: number): boolean {
  const declared = Number(req.headers['content-length'])
  return Number.isFinite(declared) && declared > maxBytes
}

export type BodyRead = { kind: 'body'; body: Buffer } | { kind: 'too-large' } | { kind: 'aborted' }

/**
 * Reads the request body, giving up as soon as it passes `maxBytes` (a chunked body announces no length), so a
 * request never holds more than `maxBytes` of memory.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (result: BodyRead) => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('close', onClose)
      req.off('error', onClose)
      resolve(result)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) return finish({ kind: 'too-large' })
      chunks.push(chunk)
    }
    const onEnd = () => finish({ kind: 'body', body: Buffer.concat(chunks, size) })
    const onClose = () => finish({ kind: 'aborted' })
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('close', onClose)
    req.once('error', onClose)
  })
}

/** 413, closing the connection: the rest of the body is never read. */
export function refuseBody(res: ServerResponse, maxBytes: number): void {
  sendJSON(
    res,
    413,
    { errors: [{ message: `Request body larger than ${maxBytes} bytes`, extensions: { code: ErrorCode.BAD_USER_INPUT } }] },
    { connection: 'close' },
  )
}

/** 429 for an event stream over its address's or tenant's limit. */
export function refuseEventStream(res: ServerResponse): void {
  sendJSON(res, 429, { errors: [{ message: 'Too many event streams', extensions: { code: ErrorCode.SUBSCRIPTION_LIMIT } }] })
}
