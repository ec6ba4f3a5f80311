import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { ErrorCode, hasCode } from '../../src/errors.js'
import { createAuthenticator } from '../../src/server/auth.js'

const SECRET = 'test-secret-test-secret-test-secret!'
const auth = createAuthenticator(SECRET)
const key = new TextEncoder().encode(SECRET)
const now = () => Math.floor(Date.now() / 1000)
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')

async function token(claims: Record<string, unknown>, options: { secret?: string; alg?: string; exp?: number | null } = {}) {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'HS256' }).setIssuedAt()
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? now() + 600)
  return jwt.sign(options.secret ? new TextEncoder().encode(options.secret) : key)
}

async function refused(authorization: string | null | undefined) {
  try {
    await auth.authenticate(authorization)
  } catch (error) {
    expect(hasCode(error, ErrorCode.UNAUTHENTICATED)).toBe(true)
    return (error as Error).message
  }
  throw new Error('expected UNAUTHENTICATED')
}

describe('authenticator', () => {
  it('accepts a good token and exposes its claims', async () => {
    const exp = now() + 600
    const jwt = await token({ sub: 'user-1', tenant: 'tenant-a', scope: 'read  admin' }, { exp })
    const context = await auth.authenticate(`Bearer ${jwt}`)
    expect(context).toEqual({ sub: 'user-1', tenant: 'tenant-a', scopes: new Set(['read', 'admin']), exp })
  })

  it('accepts the scheme in any case and surrounding spaces', async () => {
    const jwt = await token({ sub: 'u', tenant: 't' })
    expect((await auth.authenticate(`bearer ${jwt}`)).tenant).toBe('t')
    expect((await auth.authenticate(`  BEARER   ${jwt} `)).tenant).toBe('t')
  })

  it('accepts a token without expiry or scope', async () => {
    const context = await auth.authenticate(`Bearer ${await token({ sub: 'u', tenant: 't' }, { exp: null })}`)
    expect(context.exp).toBeUndefined()
    expect(context.scopes.size).toBe(0)
  })

  it('signs tokens it accepts', async () => {
    const jwt = await auth.sign({ sub: 'dev-admin', tenant: 'acme', scope: 'admin' }, 60)
    const context = await auth.authenticate(`Bearer ${jwt}`)
    expect(context).toMatchObject({ sub: 'dev-admin', tenant: 'acme' })
    expect(context.scopes.has('admin')).toBe(true)
    expect(context.exp).toBeGreaterThanOrEqual(now() + 59)
    expect(context.exp).toBeLessThanOrEqual(now() + 61)
    expect((await auth.authenticate(`Bearer ${await auth.sign({ sub: 's', tenant: 't' })}`)).exp).toBeGreaterThan(now() + 3500)
    await expect(auth.sign({ sub: 's', tenant: '' })).rejects.toThrow(TypeError)
    await expect(auth.sign({ sub: 's', tenant: 't' }, 0)).rejects.toThrow(TypeError)
  })

  it.each<[string, () => Promise<string | null | undefined>]>([
    ['a missing header', async () => undefined],
    ['a null header', async () => null],
    ['an empty header', async () => ''],
    ['a token without scheme', async () => token({ sub: 'u', tenant: 't' })],
    ['the Basic scheme', async () => `Basic ${Buffer.from('u:p').toString('base64')}`],
    ['the Token scheme', async () => `Token ${await token({ sub: 'u', tenant: 't' })}`],
    ['a bare scheme', async () => 'Bearer'],
    ['garbage', async () => 'Bearer not-a-jwt'],
    ['a forged signature', async () => `Bearer ${await token({ sub: 'u', tenant: 't' }, { secret: 'another-secret-another-secret-another' })}`],
    ['a tampered payload', async () => {
      const [header, , signature] = (await token({ sub: 'u', tenant: 't' })).split('.')
      return `Bearer ${header}.${b64({ sub: 'u', tenant: 'other', exp: now() + 600 })}.${signature}`
    }],
    ['alg none', async () => `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'u', tenant: 't', exp: now() + 600 })}.`],
    ['HS512 with the same secret', async () => `Bearer ${await token({ sub: 'u', tenant: 't' }, { alg: 'HS512' })}`],
    ['an expired token', async () => `Bearer ${await token({ sub: 'u', tenant: 't' }, { exp: now() - 1 })}`],
    ['a token not valid yet', async () => `Bearer ${await new SignJWT({ sub: 'u', tenant: 't' }).setProtectedHeader({ alg: 'HS256' }).setNotBefore(now() + 600).sign(key)}`],
    ['a missing tenant', async () => `Bearer ${await token({ sub: 'u' })}`],
    ['an empty tenant', async () => `Bearer ${await token({ sub: 'u', tenant: '' })}`],
    ['a non-string tenant', async () => `Bearer ${await token({ sub: 'u', tenant: { $ne: null } })}`],
    ['a tenant over 128 characters', async () => `Bearer ${await token({ sub: 'u', tenant: 't'.repeat(129) })}`],
    ['a missing sub', async () => `Bearer ${await token({ tenant: 't' })}`],
    ['a non-string scope', async () => `Bearer ${await token({ sub: 'u', tenant: 't', scope: ['admin'] })}`],
    ['an oversized header', async () => `Bearer ${'a'.repeat(9000)}.b.c`],
  ])('refuses %s without saying why', async (_name, header) => {
    expect(await refused(await header())).toBe('Forbidden')
  })

  it('accepts a tenant of exactly 128 characters', async () => {
    const tenant = 't'.repeat(128)
    expect((await auth.authenticate(`Bearer ${await token({ sub: 'u', tenant })}`)).tenant).toBe(tenant)
  })
})
