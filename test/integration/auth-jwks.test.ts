import { KeyObject } from 'node:crypto'
import { once } from 'node:events'
import { exportSPKI, SignJWT, type JWTHeaderParameters, type JWTPayload } from 'jose'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { AuthSpec } from '../../src/models/types.js'
import { createLogger } from '../../src/observability/logger.js'
import { createAuthenticator, type Authenticator, type AuthenticatorOptions } from '../../src/server/auth.js'
import { createIdpKey, IDP_AUDIENCE, IDP_ISSUER, idpToken, startJwksServer, type IdpKey, type JwksServer } from '../fixtures/jwks.js'
import { startToyGateway, type ToyGateway } from '../fixtures/toy-schema.js'

const ORG_CLAIM = 'https://changegate.test/org'
const FORBIDDEN = { message: 'Forbidden', extensions: { code: 'UNAUTHENTICATED' } }
const now = () => Math.floor(Date.now() / 1000)
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let rsa: IdpKey
let ec: IdpKey
let ed: IdpKey
let ps: IdpKey
/** Never published: an attacker's key, or the identity provider's next key. */
let other: IdpKey

beforeAll(async () => {
  ;[rsa, ec, ed, ps, other] = await Promise.all([
    createIdpKey('RS256', 'rsa-1'),
    createIdpKey('ES256', 'ec-1'),
    createIdpKey('EdDSA', 'ed-1'),
    createIdpKey('PS256', 'ps-1'),
    createIdpKey('RS256', 'rsa-2'),
  ])
})

const servers: JwksServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})

async function idp(keys: readonly IdpKey[]) {
  const server = await startJwksServer(keys)
  servers.push(server)
  return server
}

function authenticatorFor(server: JwksServer, spec: Omit<AuthSpec, 'jwksUrl'> = {}, tuning: Partial<AuthenticatorOptions> = {}) {
  return createAuthenticator({
    auth: { jwksUrl: server.url, issuer: IDP_ISSUER, audience: IDP_AUDIENCE, claims: { tenant: ORG_CLAIM }, ...spec },
    ...tuning,
  })
}

const claims = (tenant = 'acme') => ({ sub: 'user-1', [ORG_CLAIM]: tenant })

/** A token with the issuer, audience and expiry the provider would set, but a header and key of the test's choosing. */
const crafted = (header: JWTHeaderParameters, payload: JWTPayload, key: Parameters<SignJWT['sign']>[0]) =>
  new SignJWT(payload).setProtectedHeader(header).setIssuer(IDP_ISSUER).setAudience(IDP_AUDIENCE).setExpirationTime('1h').sign(key)
const bearer = (token: string) => `Bearer ${token}`

/** A logger whose JSON lines land in `lines`. */
function capturedLog(level: 'debug' | 'warn') {
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({ level, nodeId: 'jwks', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } })
  return { lines, logger }
}

/** Resolves to how long `authenticate` took and whether it accepted. */
async function timed(auth: Authenticator, token: string) {
  const started = performance.now()
  const outcome = await auth.authenticate(bearer(token)).then(
    (context) => ({ accepted: true as const, tenant: context.tenant }),
    (error: unknown) => {
      expect(error).toMatchObject(FORBIDDEN)
      return { accepted: false as const }
    },
  )
  return { ...outcome, ms: performance.now() - started }
}

describe('JWKS authenticator', () => {
  it('accepts RS256, PS256, ES256 and EdDSA tokens from the published keys, tenant from a namespaced claim', async () => {
    const server = await idp([rsa, ps, ec, ed])
    const auth = authenticatorFor(server)
    expect(auth.mode).toBe('jwks')
    for (const key of [rsa, ps, ec, ed]) {
      const context = await auth.authenticate(bearer(await idpToken(key, { ...claims(`tenant-${key.kid}`), scope: 'read admin' })))
      expect(context).toMatchObject({ sub: 'user-1', tenant: `tenant-${key.kid}`, scopes: new Set(['read', 'admin']) })
    }
    // One fetch served every key.
    expect(server.requests).toBe(1)
  })

  it('reads the tenant from a dotted path and scopes from an array claim', async () => {
    const server = await idp([rsa])
    const auth = authenticatorFor(server, { claims: { tenant: 'app_metadata.org', scope: 'permissions' } })
    const token = await idpToken(rsa, { sub: 'u', app_metadata: { org: 'globex' }, permissions: ['read:orders', 'admin'] })
    expect(await auth.authenticate(bearer(token))).toMatchObject({ tenant: 'globex', scopes: new Set(['read:orders', 'admin']) })
    await expect(auth.authenticate(bearer(await idpToken(rsa, { sub: 'u', tenant: 'globex' })))).rejects.toMatchObject(FORBIDDEN)
  })

  it('refuses every token it cannot fully verify, with the same error', async () => {
    const server = await idp([rsa, ec])
    const { lines, logger } = capturedLog('debug')
    const reasons = () => lines.map((l) => String(l.reason))
    const auth = authenticatorFor(server, {}, { jwksCooldownMs: 60_000, logger })
    const pem = await exportSPKI(rsa.publicKey)
    const cases: Array<[string, () => Promise<string>]> = [
      ['wrong issuer', () => idpToken(rsa, claims(), { iss: 'https://evil.test/' })],
      ['no issuer', () => idpToken(rsa, claims(), { iss: null })],
      ['wrong audience', () => idpToken(rsa, claims(), { aud: 'another-api' })],
      ['no audience', () => idpToken(rsa, claims(), { aud: null })],
      ['expired', () => idpToken(rsa, claims(), { exp: now() - 10 })],
      ['no expiry', () => idpToken(rsa, claims(), { exp: null })],
      ['missing tenant claim', () => idpToken(rsa, { sub: 'user-1', tenant: 'acme' })],
      ['empty tenant claim', () => idpToken(rsa, claims(''))],
      ['missing sub', () => idpToken(rsa, { [ORG_CLAIM]: 'acme' })],
      ['unknown kid (unpublished key)', () => idpToken(other, claims())],
      ['forged: published kid, unpublished key', () => idpToken(other, claims(), { kid: rsa.kid })],
      [
        'wrong alg: PS256 header on an RS256 key',
        () => crafted({ alg: 'PS256', kid: rsa.kid }, claims(), KeyObject.from(rsa.privateKey)),
      ],
      ['wrong alg: RSA key under an ES256 kid', () => idpToken({ ...rsa, alg: 'RS256' }, claims(), { kid: ec.kid })],
      [
        'HS256 signed with the public key (PEM)',
        () => crafted({ alg: 'HS256', kid: rsa.kid }, claims(), new TextEncoder().encode(pem)),
      ],
      [
        'HS256 signed with the public key (JWK modulus)',
        () => crafted({ alg: 'HS256', kid: rsa.kid }, claims(), Buffer.from(rsa.jwk.n!, 'base64url')),
      ],
      [
        'alg none',
        async () => `${b64({ alg: 'none', kid: rsa.kid })}.${b64({ ...claims(), iss: IDP_ISSUER, aud: IDP_AUDIENCE, exp: now() + 600 })}.`,
      ],
      [
        'a key embedded in the header (jwk)',
        async () => {
          const { kid: _kid, alg: _alg, use: _use, ...jwk } = other.jwk
          return crafted({ alg: 'RS256', jwk }, claims(), other.privateKey)
        },
      ],
      [
        'a key URL in the header (jku)',
        () => crafted({ alg: 'RS256', kid: other.kid, jku: 'http://127.0.0.1:9/jwks.json' }, claims(), other.privateKey),
      ],
      ['a tampered payload', () => idpToken(rsa, claims()).then((t) => {
        const [header, , signature] = t.split('.')
        return `${header}.${b64({ ...claims('globex'), iss: IDP_ISSUER, aud: IDP_AUDIENCE, exp: now() + 600 })}.${signature}`
      })],
    ]
    const refusals: Record<string, string | undefined> = {}
    for (const [name, token] of cases) {
      const outcome = await timed(auth, await token())
      refusals[name] = outcome.accepted ? 'ACCEPTED' : reasons().at(-1)
    }
    // Each refusal came from the check it was meant to hit (the reason is logged at debug, never sent).
    expect(refusals).toEqual({
      'wrong issuer': 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      'no issuer': 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      'wrong audience': 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      'no audience': 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      expired: 'ERR_JWT_EXPIRED',
      'no expiry': 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      'missing tenant claim': 'claims',
      'empty tenant claim': 'claims',
      'missing sub': 'claims',
      'unknown kid (unpublished key)': 'ERR_JWKS_NO_MATCHING_KEY',
      'forged: published kid, unpublished key': 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      'wrong alg: PS256 header on an RS256 key': 'ERR_JWKS_NO_MATCHING_KEY',
      'wrong alg: RSA key under an ES256 kid': 'ERR_JWKS_NO_MATCHING_KEY',
      'HS256 signed with the public key (PEM)': 'ERR_JOSE_ALG_NOT_ALLOWED',
      'HS256 signed with the public key (JWK modulus)': 'ERR_JOSE_ALG_NOT_ALLOWED',
      'alg none': 'ERR_JOSE_ALG_NOT_ALLOWED',
      'a key embedded in the header (jwk)': 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      'a key URL in the header (jku)': 'ERR_JWKS_NO_MATCHING_KEY',
      'a tampered payload': 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    })
    // A good token still passes, so the refusals above were not a broken authenticator.
    expect((await auth.authenticate(bearer(await idpToken(rsa, claims())))).tenant).toBe('acme')
    // Unknown kids within the cooldown cost the identity provider nothing.
    expect(server.requests).toBe(1)
  })

  it('accepts a token without kid when one published key fits its algorithm', async () => {
    const server = await idp([rsa, ec])
    const auth = authenticatorFor(server)
    expect((await auth.authenticate(bearer(await idpToken(ec, claims('no-kid'), { kid: null })))).tenant).toBe('no-kid')
  })

  it('follows key rotation: a new kid is fetched and accepted, a removed kid is refused', async () => {
    const server = await idp([rsa])
    const auth = authenticatorFor(server, {}, { jwksCooldownMs: 0 })
    const oldToken = await idpToken(rsa, claims('old'))
    const newToken = await idpToken(other, claims('new'))
    expect((await auth.authenticate(bearer(oldToken))).tenant).toBe('old')
    await expect(auth.authenticate(bearer(newToken))).rejects.toMatchObject(FORBIDDEN)

    server.publish([other])
    expect((await auth.authenticate(bearer(newToken))).tenant).toBe('new')
    const fetches = server.requests
    await expect(auth.authenticate(bearer(oldToken))).rejects.toMatchObject(FORBIDDEN)
    // The refusal came from the fresh key set (one refetch for the unknown kid), and the new key still works.
    expect(server.requests).toBe(fetches + 1)
    expect((await auth.authenticate(bearer(newToken))).tenant).toBe('new')
  })

  it('rate-limits refetches: a flood of unknown kids within the cooldown causes no request, after it one', async () => {
    const server = await idp([rsa])
    const auth = authenticatorFor(server, {}, { jwksCooldownMs: 400 })
    await auth.authenticate(bearer(await idpToken(rsa, claims())))
    expect(server.requests).toBe(1)

    const flood = await Promise.all(Array.from({ length: 50 }, (_, i) => idpToken(other, claims(), { kid: `unknown-${i}` })))
    const outcomes = await Promise.all(flood.map((token) => timed(auth, token)))
    expect(outcomes.every((o) => !o.accepted)).toBe(true)
    expect(server.requests).toBe(1)

    await sleep(450)
    const afterCooldown = await Promise.all(flood.map((token) => timed(auth, token)))
    expect(afterCooldown.every((o) => !o.accepted)).toBe(true)
    // Concurrent unknown kids share one refetch, and the next cooldown starts with it.
    expect(server.requests).toBe(2)
  })

  it('refreshes keys past their maximum age in the background: a removed key stops working without an unknown kid', async () => {
    const server = await idp([rsa, other])
    const auth = authenticatorFor(server, {}, { jwksMaxAgeMs: 200, jwksCooldownMs: 60_000 })
    const token = await idpToken(rsa, claims())
    expect((await auth.authenticate(bearer(token))).tenant).toBe('acme')
    server.publish([other])
    await sleep(250)
    // Stale keys still verify while the refresh runs; once it lands, the removed key is gone.
    expect((await auth.authenticate(bearer(token))).tenant).toBe('acme')
    await expect.poll(() => timed(auth, token).then((o) => o.accepted), { timeout: 2000, interval: 20 }).toBe(false)
    expect((await auth.authenticate(bearer(await idpToken(other, claims('rotated'))))).tenant).toBe('rotated')
  })
})

describe('JWKS endpoint unavailable', () => {
  it('down at start: tokens are refused quickly, nothing crashes; accepted once it is up', async () => {
    const server = await idp([rsa])
    await server.down()
    const { lines, logger } = capturedLog('warn')
    const auth = authenticatorFor(server, {}, { jwksRetryMs: 100, logger })
    const token = await idpToken(rsa, claims())
    for (let i = 0; i < 5; i++) {
      const outcome = await timed(auth, token)
      expect(outcome.accepted).toBe(false)
      expect(outcome.ms).toBeLessThan(1000)
    }
    // The operator hears about the identity provider (once per retry period), not about each token.
    expect(lines.length).toBeGreaterThanOrEqual(1)
    expect(lines.length).toBeLessThan(5)
    expect(lines[0]).toMatchObject({ level: 'warn', jwksUrl: server.url })
    expect(String(lines[0]!.err)).toContain('ECONNREFUSED')
    await server.up()
    await expect.poll(() => timed(auth, token).then((o) => o.accepted), { timeout: 3000, interval: 25 }).toBe(true)
  })

  it('held off after a failure: a burst of tokens while it fails costs one request per retry period', async () => {
    const server = await idp([rsa])
    const auth = authenticatorFor(server, {}, { jwksRetryMs: 60_000, jwksTimeoutMs: 500 })
    server.delay(5000)
    const token = await idpToken(rsa, claims())
    const burst = await Promise.all(Array.from({ length: 20 }, () => timed(auth, token)))
    expect(burst.every((o) => !o.accepted)).toBe(true)
    const again = await timed(auth, token)
    expect(again.accepted).toBe(false)
    expect(again.ms).toBeLessThan(250)
    expect(server.requests).toBe(1)
  })

  it('down mid-run: cached keys keep working, unknown kids are refused at once, stale keys are kept', async () => {
    const server = await idp([rsa])
    const auth = authenticatorFor(server, {}, { jwksCooldownMs: 0, jwksMaxAgeMs: 100, jwksTimeoutMs: 5000 })
    const known = await idpToken(rsa, claims('known'))
    expect((await auth.authenticate(bearer(known))).tenant).toBe('known')
    await server.down()
    await sleep(150)

    for (let i = 0; i < 5; i++) {
      const outcome = await timed(auth, known)
      expect(outcome).toMatchObject({ accepted: true, tenant: 'known' })
      expect(outcome.ms).toBeLessThan(500)
    }
    const unknown = await timed(auth, await idpToken(other, claims()))
    expect(unknown.accepted).toBe(false)
    expect(unknown.ms).toBeLessThan(1000)
  })

  it('broken answers (HTTP 500, HTML, JSON without keys) refuse new keys, keep cached ones, and are logged', async () => {
    const server = await idp([rsa])
    const { lines, logger } = capturedLog('warn')
    const auth = authenticatorFor(server, {}, { jwksCooldownMs: 0, jwksRetryMs: 0, jwksMaxAgeMs: 50, logger })
    const known = await idpToken(rsa, claims('known'))
    const unknown = await idpToken(other, claims('new'))
    expect((await auth.authenticate(bearer(known))).tenant).toBe('known')
    server.publish([rsa, other])
    for (const answer of [
      { status: 500, body: 'upstream error' },
      { status: 200, body: '<html>maintenance</html>' },
      { status: 200, body: '{"keys":"none"}' },
    ]) {
      server.misbehave(answer)
      await sleep(60)
      const failures = lines.length
      expect((await auth.authenticate(bearer(known))).tenant).toBe('known')
      await expect(auth.authenticate(bearer(unknown))).rejects.toMatchObject(FORBIDDEN)
      expect(lines.length).toBeGreaterThan(failures)
    }
    expect(lines.map((l) => String(l.err))).toEqual(
      expect.arrayContaining([expect.stringContaining('HTTP 500'), expect.stringContaining('JSON'), expect.stringContaining('"keys"')]),
    )
    server.misbehave(null)
    expect((await auth.authenticate(bearer(unknown))).tenant).toBe('new')
  })

  it('slow: a JWKS response slower than the timeout fails the token instead of hanging', async () => {
    const server = await idp([rsa])
    server.delay(10_000)
    const auth = authenticatorFor(server, {}, { jwksTimeoutMs: 300 })
    const outcome = await timed(auth, await idpToken(rsa, claims()))
    expect(outcome.accepted).toBe(false)
    expect(outcome.ms).toBeGreaterThanOrEqual(250)
    expect(outcome.ms).toBeLessThan(2000)
  })

  it('slow mid-run: known kids are served from the cache while the refresh hangs', async () => {
    const server = await idp([rsa])
    const auth = authenticatorFor(server, {}, { jwksMaxAgeMs: 100, jwksCooldownMs: 0, jwksTimeoutMs: 1000 })
    const known = await idpToken(rsa, claims('known'))
    expect((await auth.authenticate(bearer(known))).tenant).toBe('known')
    server.delay(10_000)
    await sleep(150)
    const started = performance.now()
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => timed(auth, known)))
    expect(outcomes.every((o) => o.accepted)).toBe(true)
    expect(performance.now() - started).toBeLessThan(500)
    // An unknown kid waits for the hanging refresh, but no longer than the timeout.
    const unknown = await timed(auth, await idpToken(other, claims()))
    expect(unknown.accepted).toBe(false)
    expect(unknown.ms).toBeLessThan(2000)
  })
})

describe('JWKS authenticator behind the transports', () => {
  /** A graphql-transport-ws socket; resolves `ready` with the first answer to connection_init. */
  async function connect(gw: ToyGateway, authorization: string) {
    const socket = new WebSocket(gw.wsUrl, 'graphql-transport-ws')
    const messages: Array<{ type: string; payload?: unknown }> = []
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    )
    socket.on('message', (data) => messages.push(JSON.parse(String(data))))
    socket.on('error', () => undefined)
    await once(socket, 'open')
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } }))
    return { socket, messages, closed }
  }

  const UNAUTHORIZED_BODY = { errors: [{ message: 'Unauthorized', extensions: { code: 'UNAUTHENTICATED' } }] }

  const post = async (gw: ToyGateway, authorization: string) => {
    const response = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
      body: JSON.stringify({ query: '{ whoami }' }),
    })
    return { status: response.status, body: await response.json() }
  }

  it('HTTP 401 and WebSocket 4403 "Forbidden" for bad tokens; RS256 tokens served; an IdP outage spares known keys', async () => {
    const server = await idp([rsa])
    const gw = await startToyGateway({ authenticator: authenticatorFor(server, {}, { jwksCooldownMs: 0, jwksTimeoutMs: 1000 }) })
    try {
      const good = bearer(await idpToken(rsa, claims('globex')))
      const bad = [
        bearer(await idpToken(rsa, claims('globex'), { aud: 'another-api' })),
        bearer(await idpToken(other, claims('globex'))),
        bearer(await crafted({ alg: 'HS256', kid: rsa.kid }, claims('globex'), new TextEncoder().encode(await exportSPKI(rsa.publicKey)))),
      ]

      expect(await post(gw, good)).toEqual({ status: 200, body: { data: { whoami: 'globex' } } })
      for (const authorization of bad) {
        expect(await post(gw, authorization)).toEqual({ status: 401, body: UNAUTHORIZED_BODY })
        const refused = await connect(gw, authorization)
        expect(await refused.closed).toEqual({ code: 4403, reason: 'Forbidden' })
        expect(refused.messages).toEqual([])
      }

      const live = await connect(gw, good)
      await expect.poll(() => live.messages[0]).toEqual({ type: 'connection_ack' })
      live.socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { ticks(count: 40, intervalMs: 50) }' } }))
      const ticks = () => live.messages.filter((m) => m.type === 'next').length
      await expect.poll(ticks).toBeGreaterThan(2)

      // The identity provider goes away: the open subscription keeps running, known keys keep verifying.
      await server.down()
      const delivered = ticks()
      await expect.poll(ticks).toBeGreaterThan(delivered + 2)
      expect(live.messages.every((m) => m.type === 'connection_ack' || m.type === 'next')).toBe(true)
      expect(await post(gw, good)).toEqual({ status: 200, body: { data: { whoami: 'globex' } } })
      const second = await connect(gw, good)
      await expect.poll(() => second.messages[0]).toEqual({ type: 'connection_ack' })
      const unknown = await connect(gw, bearer(await idpToken(other, claims('globex'), { kid: 'never-published' })))
      expect(await unknown.closed).toEqual({ code: 4403, reason: 'Forbidden' })

      for (const socket of [live.socket, second.socket]) socket.close(1000)
      await Promise.all([live.closed, second.closed])
    } finally {
      await gw.stop()
    }
  })
})
