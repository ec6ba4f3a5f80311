import { closeSync, openSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'

// A kernel before Linux 6.2 reports size 0 for /proc/self/fd: the count then comes from listing it.
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  return { ...real, stat: async (path: string) => ({ ...(await real.stat(path)), size: 0 }) }
})

const { createMetrics } = await import('../../src/observability/metrics.js')
const openFds = async (text: Promise<string>) => Number(/^changegate_process_open_fds (\d+)$/m.exec(await text)?.[1])

describe.runIf(process.platform === 'linux')('changegate_process_open_fds where /proc/self/fd has no size', () => {
  it('counts the descriptors by listing them', async () => {
    const { registry } = createMetrics()
    const before = await openFds(registry.metrics())
    expect(before).toBeGreaterThan(2)
    const opened = Array.from({ length: 25 }, () => openSync('/dev/null', 'r'))
    try {
      expect(await openFds(registry.metrics())).toBeGreaterThanOrEqual(before + 25)
    } finally {
      for (const fd of opened) closeSync(fd)
    }
    expect(await openFds(registry.metrics())).toBeLessThanOrEqual(before + 2)
  })
})
