import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { startToyGateway } from '../fixtures/toy-schema.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Runs in a child process: opens a WebSocket subscription and an SSE stream, stops the server, and then relies
 * on the event loop draining by itself: any handle `stop()` leaves open keeps the process alive.
 */
const SCRIPT = `
import { createClient } from 'graphql-ws'
import WebSocket from 'ws'
import { startToyGateway } from './test/fixtures/toy-schema.ts'

const gw = await startToyGateway({ logger: undefined })
const ws = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: 'Bearer ' + gw.token } })
const query = 'subscription { ticks(count: 1000000, intervalMs: 10) }'
await new Promise((resolve) => ws.subscribe({ query }, { next: resolve, error: resolve, complete: resolve }))
const sse = await fetch(gw.url, {
  method: 'POST',
  headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: 'Bearer ' + gw.token },
  body: JSON.stringify({ query }),
})
const reader = sse.body.getReader()
await reader.read()
const before = gw.server.stats()
await gw.stop()
reader.read().catch(() => undefined)
process.stdout.write(JSON.stringify({ before, after: gw.server.stats(), ended: gw.probe.ticksEnded }) + '\\n')
`

describe('lifecycle', () => {
  it('stop() ends every subscription and leaves no handle open: the process exits by itself', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null]
    clearTimeout(timer)
    expect({ code, signal, err }).toEqual({ code: 0, signal: null, err: '' })
    const line = out.trim().split('\n').at(-1) ?? '{}'
    expect(JSON.parse(line)).toEqual({
      before: { connections: 1, subscriptions: 2 },
      after: { connections: 0, subscriptions: 0 },
      ended: 2,
    })
  })

  it('stop() is idempotent and the port is released', async () => {
    const gw = await startToyGateway()
    await Promise.all([gw.stop(), gw.stop()])
    await gw.stop()
    await expect(fetch(new URL('/healthz', gw.url))).rejects.toThrow()
  })
})
