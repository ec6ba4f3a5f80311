import { GraphQLError } from 'graphql'
import { describe, expect, it } from 'vitest'
import {
  badUserInput,
  cursorExpired,
  ErrorCode,
  forbidden,
  GatewayError,
  gatewayErrorFromCode,
  hasCode,
  internalError,
  invalidCursor,
  isGatewayError,
  slowConsumer,
  streamInvalidated,
  subscriptionLimit,
  unauthenticated,
} from '../../src/errors.js'

describe('errors', () => {
  it.each([
    [badUserInput('filter.status must not be empty'), 'BAD_USER_INPUT'],
    [invalidCursor(), 'INVALID_CURSOR'],
    [cursorExpired(), 'CURSOR_EXPIRED'],
    [streamInvalidated(), 'STREAM_INVALIDATED'],
    [subscriptionLimit(), 'SUBSCRIPTION_LIMIT'],
    [slowConsumer(), 'SLOW_CONSUMER'],
    [forbidden(), 'FORBIDDEN'],
    [unauthenticated(), 'UNAUTHENTICATED'],
    [internalError(), 'INTERNAL_SERVER_ERROR'],
  ] as const)('%s carries extensions.code %s', (error, code) => {
    expect(error).toBeInstanceOf(GraphQLError)
    expect(error.code).toBe(code)
    expect(error.extensions).toEqual({ code })
    expect(error.toJSON()).toEqual({ message: error.message, extensions: { code } })
    expect(error.message.length).toBeGreaterThan(0)
  })

  it('keeps the message given to badUserInput', () => {
    expect(badUserInput('customerId must be a 24-character hex ObjectId').message).toBe(
      'customerId must be a 24-character hex ObjectId',
    )
  })

  it('says nothing about why authentication failed', () => {
    expect(unauthenticated().message).toBe('Forbidden')
  })

  it('covers every code with exactly one stable string', () => {
    expect(Object.values(ErrorCode).sort()).toEqual([
      'BAD_USER_INPUT',
      'CURSOR_EXPIRED',
      'FORBIDDEN',
      'INTERNAL_SERVER_ERROR',
      'INVALID_CURSOR',
      'SLOW_CONSUMER',
      'STREAM_INVALIDATED',
      'SUBSCRIPTION_LIMIT',
      'UNAUTHENTICATED',
    ])
  })

  it('classifies by type and code, not by message', () => {
    const error = new GatewayError(ErrorCode.SLOW_CONSUMER, 'anything')
    expect(isGatewayError(error)).toBe(true)
    expect(isGatewayError(new Error('SLOW_CONSUMER'))).toBe(false)
    expect(isGatewayError(null)).toBe(false)
    expect(hasCode(error, ErrorCode.SLOW_CONSUMER)).toBe(true)
    expect(hasCode(error, ErrorCode.CURSOR_EXPIRED)).toBe(false)
    expect(hasCode(new GraphQLError('x', { extensions: { code: 'CURSOR_EXPIRED' } }), ErrorCode.CURSOR_EXPIRED)).toBe(true)
    expect(hasCode(new Error('CURSOR_EXPIRED'), ErrorCode.CURSOR_EXPIRED)).toBe(false)
    expect(hasCode('CURSOR_EXPIRED', ErrorCode.CURSOR_EXPIRED)).toBe(false)
  })

  it('rebuilds errors from codes received as data and masks unknown or internal ones', () => {
    expect(gatewayErrorFromCode('STREAM_INVALIDATED').code).toBe('STREAM_INVALIDATED')
    expect(gatewayErrorFromCode('SLOW_CONSUMER', 'behind').message).toBe('behind')
    const unknown = gatewayErrorFromCode('EVIL', 'stack trace here')
    expect(unknown.code).toBe('INTERNAL_SERVER_ERROR')
    expect(unknown.message).toBe('Internal server error')
    expect(gatewayErrorFromCode('INTERNAL_SERVER_ERROR', 'ECONNREFUSED 10.0.0.1').message).toBe('Internal server error')
  })
})
