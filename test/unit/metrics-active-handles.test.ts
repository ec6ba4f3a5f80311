import { createServer, connect, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createMetrics } from '../../src/observability/metrics.js'

const NAMES = ['nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_resources', 'nodejs_active_resources_total']

/** `name{labels} value` lines of one metric family, the prefix removed. */
const family = (text: string, prefix: string, name: string) =>
  text
    .split('\n')
    .filter((line) => line.startsWith(`${prefix}${name}{`) || line.startsWith(`${prefix}${name} `))
    .map((line) => line.slice(prefix.length))
    .sort()

const headers = (text: string, prefix: string, name: string) =>
  text
    .split('\n')
    .filter((line) => line === `# TYPE ${prefix}${name} gauge` || line.startsWith(`# HELP ${prefix}${name} `))
    .map((line) => line.replace(prefix, ''))

const handles = process as unknown as { _getActiveHandles(): unknown[] }

describe('active handles and resources metrics', () => {
  let server: Server | undefined
  const sockets: Socket[] = []

  afterEach(async () => {
    vi.restoreAllMocks()
    for (const socket of sockets.splice(0)) socket.destroy()
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    server = undefined
  })

  it('walks the handles and the resources once per scrape, not once per gauge', async () => {
    const { registry } = createMetrics()
    await registry.metrics()
    const walks = vi.spyOn(handles, '_getActiveHandles')
    const infos = vi.spyOn(process, 'getActiveResourcesInfo')
    await registry.metrics()
    expect(walks).toHaveBeenCalledTimes(1)
    expect(infos).toHaveBeenCalledTimes(1)
    await new Promise((resolve) => setImmediate(resolve))
    await registry.metrics()
    expect(walks).toHaveBeenCalledTimes(2)
    expect(infos).toHaveBeenCalledTimes(2)
  })

  it('reports what prom-client’s own gauges report, under the same names, help and labels', async () => {
    server = createServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    await Promise.all(
      Array.from({ length: 20 }, () => new Promise<void>((resolve) => sockets.push(connect(port, '127.0.0.1', resolve)))),
    )
    await new Promise((resolve) => setTimeout(resolve, 20))

    const reference = new Registry()
    collectDefaultMetrics({ register: reference, prefix: 'ref_' })
    const { registry } = createMetrics()
    // Same turn for both: nothing opens or closes in between, except what the scrapes start themselves (each
    // registry's event-loop gauge an Immediate, the gateway's descriptor count a directory listing), which each
    // registry sees a different number of.
    const [ours, theirs] = await Promise.all([registry.metrics(), reference.metrics()])
    const scrapesOwn = (line: string) => /type="(Immediate|FSReqCallback|FSReqPromise)"/.test(line)

    for (const name of NAMES) {
      expect(headers(ours, 'changegate_', name), name).toEqual(headers(theirs, 'ref_', name))
      expect(headers(ours, 'changegate_', name), name).toHaveLength(2)
    }
    for (const name of ['nodejs_active_handles', 'nodejs_active_handles_total']) {
      expect(family(ours, 'changegate_', name), name).toEqual(family(theirs, 'ref_', name))
    }
    const resources = family(ours, 'changegate_', 'nodejs_active_resources')
    expect(resources.filter((line) => !scrapesOwn(line))).toEqual(family(theirs, 'ref_', 'nodejs_active_resources').filter((line) => !scrapesOwn(line)))
    const sum = resources.reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)
    expect(family(ours, 'changegate_', 'nodejs_active_resources_total')).toEqual([`nodejs_active_resources_total ${sum}`])
    expect(resources.some((line) => line.startsWith('nodejs_active_resources{type="TCPSocketWrap"}'))).toBe(true)
    // The sockets just opened are among what is counted: 20 client ends and the server's 20 accepted ones.
    const total = Number(/^changegate_nodejs_active_handles_total (\d+)$/m.exec(ours)?.[1])
    expect(total).toBeGreaterThanOrEqual(41)
    expect(ours).toMatch(/^changegate_nodejs_active_handles\{type="Socket"\} (\d+)$/m)
    expect(Number(/^changegate_nodejs_active_handles\{type="Socket"\} (\d+)$/m.exec(ours)?.[1])).toBeGreaterThanOrEqual(40)
  })

  it('names odd handles as prom-client does: no constructor left out, a constructor without a name as "undefined"', async () => {
    class Named {}
    const odd = [new Named(), new Named(), null, Object.create(null), { constructor: {} }, new Named()]
    vi.spyOn(handles, '_getActiveHandles').mockReturnValue(odd)
    const reference = new Registry()
    collectDefaultMetrics({ register: reference, prefix: 'ref_' })
    const [ours, theirs] = await Promise.all([createMetrics().registry.metrics(), reference.metrics()])
    expect(family(ours, 'changegate_', 'nodejs_active_handles')).toEqual(['nodejs_active_handles{type="Named"} 3', 'nodejs_active_handles{type="undefined"} 1'])
    expect(family(ours, 'changegate_', 'nodejs_active_handles')).toEqual(family(theirs, 'ref_', 'nodejs_active_handles'))
    expect(family(ours, 'changegate_', 'nodejs_active_handles_total')).toEqual(['nodejs_active_handles_total 6'])
  })
})
