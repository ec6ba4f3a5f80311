import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { ErrorCode, hasCode } from '../../src/errors.js'
import { createLogger } from '../../src/observability/logger.js'
import { createAuthenticator } from '../../src/server/auth.js'
import { readClaim } from '../../src/server/auth/claims.js'

const SECRET = 'test-secret-test-secret-test-secret!'
const auth = createAuthenticator({ secret: SECRET })
const key = new TextEncoder().encode(SECRET)
const now = () => Math.floor(Date.now() / 1000)
/** The one error every refusal gives. */
const FORBIDDEN = { message: 'Forbidden', extensions: { code: 'UNAUTHENTICATED' } }
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

  it('gives callers with equal scope lists one shared scope set, and each distinct list its own', async () => {
    const scopesOf = async (claims: Record<string, unknown>) => (await auth.authenticate(`Bearer ${await token({ sub: 'u', tenant: 't', ...claims })}`)).scopes
    const first = await scopesOf({ scope: 'read admin' })
    expect(await scopesOf({ scope: ['read', 'admin'] })).toBe(first)
    expect(await scopesOf({ scope: ' read  admin ' })).toBe(first)
    expect([...first]).toEqual(['read', 'admin'])
    const other = await scopesOf({ scope: 'admin read' })
    expect(other).not.toBe(first)
    expect(await scopesOf({ scope: ['read admin'] })).not.toBe(first)
    expect(await scopesOf({})).toBe(await scopesOf({ scope: [] }))
    expect((await scopesOf({})).size).toBe(0)
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
    ['a scope that is an object', async () => `Bearer ${await token({ sub: 'u', tenant: 't', scope: { admin: true } })}`],
    ['a scope array holding a non-string', async () => `Bearer ${await token({ sub: 'u', tenant: 't', scope: ['admin', 1] })}`],
    ['an oversized header', async () => `Bearer ${'a'.repeat(9000)}.b.c`],
  ])('refuses %s without saying why', async (_name, header) => {
    expect(await refused(await header())).toBe('Forbidden')
  })

  it('accepts a tenant of exactly 128 characters', async () => {
    const tenant = 't'.repeat(128)
    expect((await auth.authenticate(`Bearer ${await token({ sub: 'u', tenant })}`)).tenant).toBe(tenant)
  })
})

describe('claims by name or dotted path', () => {
  const payload = {
    sub: 'u',
    'https://example.com/org': 'acme',
    app_metadata: { tenant: 'globex', deep: { list: ['x'] } },
    'https://example.com/app': { org: 'initech' },
    'a.b': { c: 'named-first' },
    a: { b: { c: 'path-second' } },
    items: [{ id: 'not-entered' }],
  }

  it.each<[string, unknown]>([
    ['sub', 'u'],
    ['https://example.com/org', 'acme'],
    ['app_metadata.tenant', 'globex'],
    ['https://example.com/app.org', 'initech'],
    ['a.b.c', 'named-first'],
    ['app_metadata.deep.list', ['x']],
    ['app_metadata.missing', undefined],
    ['items.0.id', undefined],
    ['sub.length', undefined],
    ['toString', undefined],
    ['app_metadata.hasOwnProperty', undefined],
  ])('reads %s', (path, expected) => {
    expect(readClaim(payload, path)).toEqual(expected)
  })
})

describe('authenticator options (HS256)', () => {
  it('reads sub, tenant and scope under configured names and paths, and signs tokens it accepts', async () => {
    const custom = createAuthenticator({
      secret: SECRET,
      auth: { claims: { sub: 'uid', tenant: 'https://example.com/org', scope: 'permissions' } },
    })
    const jwt = await token({ uid: 'user-9', 'https://example.com/org': 'acme', permissions: ['read', 'admin'] })
    expect(await custom.authenticate(`Bearer ${jwt}`)).toMatchObject({ sub: 'user-9', tenant: 'acme', scopes: new Set(['read', 'admin']) })
    // The default `tenant` claim means nothing once another is configured.
    await expect(custom.authenticate(`Bearer ${await token({ uid: 'u', tenant: 'acme' })}`)).rejects.toMatchObject(FORBIDDEN)

    const nested = createAuthenticator({ secret: SECRET, auth: { claims: { tenant: 'app_metadata.org' } } })
    expect((await nested.authenticate(`Bearer ${await token({ sub: 'u', app_metadata: { org: 'globex' } })}`)).tenant).toBe('globex')

    for (const authenticator of [custom, nested]) {
      const signed = await authenticator.sign({ sub: 'dev', tenant: 'initech', scope: 'admin' })
      expect(await authenticator.authenticate(`Bearer ${signed}`)).toMatchObject({ sub: 'dev', tenant: 'initech', scopes: new Set(['admin']) })
    }
  })

  it('checks issuer and audience when configured, and signs them in', async () => {
    const strict = createAuthenticator({ secret: SECRET, auth: { issuer: 'https://idp.test/', audience: ['changegate', 'other'] } })
    const good = await token({ sub: 'u', tenant: 't', iss: 'https://idp.test/', aud: 'changegate' })
    expect((await strict.authenticate(`Bearer ${good}`)).tenant).toBe('t')
    expect((await strict.authenticate(`Bearer ${await strict.sign({ sub: 'u', tenant: 't' })}`)).tenant).toBe('t')
    for (const claims of [
      { sub: 'u', tenant: 't', aud: 'changegate' },
      { sub: 'u', tenant: 't', iss: 'https://evil.test/', aud: 'changegate' },
      { sub: 'u', tenant: 't', iss: 'https://idp.test/' },
      { sub: 'u', tenant: 't', iss: 'https://idp.test/', aud: 'someone-else' },
    ]) {
      await expect(strict.authenticate(`Bearer ${await token(claims)}`)).rejects.toMatchObject(FORBIDDEN)
    }
  })

  it('logs why a token was refused at debug level, never the token', async () => {
    const lines: Array<Record<string, unknown>> = []
    const logger = createLogger({ level: 'debug', nodeId: 'unit', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } })
    const logged = createAuthenticator({ secret: SECRET, logger })
    const expired = await token({ sub: 'u', tenant: 't' }, { exp: now() - 5 })
    const noTenant = await token({ sub: 'u' })
    for (const jwt of [expired, noTenant]) await expect(logged.authenticate(`Bearer ${jwt}`)).rejects.toMatchObject(FORBIDDEN)
    expect(lines.map((l) => [l.level, l.reason, l.msg])).toEqual([
      ['debug', 'ERR_JWT_EXPIRED', 'bearer token refused'],
      ['debug', 'claims', 'bearer token refused'],
    ])
    expect(String(lines[1]!.detail)).toContain('tenant')
    expect(JSON.stringify(lines)).not.toContain(expired.split('.')[2])
  })

  it('refuses to start without a secret or with bad settings', () => {
    expect(() => createAuthenticator({})).toThrow(TypeError)
    expect(() => createAuthenticator({ secret: '' })).toThrow(TypeError)
    expect(() => createAuthenticator({ secret: SECRET, auth: { claims: { tenant: '' } } })).toThrow(/auth.claims.tenant/)
    expect(() => createAuthenticator({ auth: { jwksUrl: 'not a url' } })).toThrow(/auth.jwksUrl/)
    expect(() => createAuthenticator({ auth: { jwksUrl: 'ftp://idp.test/jwks' } })).toThrow(/auth.jwksUrl/)
    expect(() => createAuthenticator({ auth: { jwksUrl: 'https://idp.test/jwks' }, jwksTimeoutMs: -1 })).toThrow(/jwksTimeoutMs/)
    expect(() => createAuthenticator({ auth: { jwksUrl: 'https://idp.test/jwks' }, jwksCooldownMs: 1.5 })).toThrow(/jwksCooldownMs/)
  })
})

describe('authenticator options (JWKS)', () => {
  const jwks = createAuthenticator({ secret: SECRET, auth: { jwksUrl: 'https://idp.test/.well-known/jwks.json' } })

  it('does not sign tokens: they come from the identity provider', async () => {
    expect(jwks.mode).toBe('jwks')
    expect(auth.mode).toBe('hs256')
    await expect(jwks.sign({ sub: 'u', tenant: 't' })).rejects.toThrow(/identity provider/)
  })

  it('never accepts an HS256 token, even one signed with the configured secret, nor alg none', async () => {
    for (const jwt of [
      await token({ sub: 'u', tenant: 't' }),
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'u', tenant: 't', exp: now() + 600 })}.`,
    ]) {
      await expect(jwks.authenticate(`Bearer ${jwt}`)).rejects.toMatchObject(FORBIDDEN)
    }
  })
})
