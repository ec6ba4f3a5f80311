import { closeSync, openSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../src/observability/metrics.js'

const openFds = async (text: Promise<string>) => Number(/^changegate_process_open_fds (\d+)$/m.exec(await text)?.[1])

describe.runIf(process.platform === 'linux')('changegate_process_open_fds', () => {
  it('counts the process’s open descriptors at each scrape, once in the exposition', async () => {
    const { registry } = createMetrics()
    const before = await openFds(registry.metrics())
    const opened = Array.from({ length: 25 }, () => openSync('/dev/null', 'r'))
    try {
      const text = registry.metrics()
      expect(await openFds(text)).toBeGreaterThanOrEqual(before + 25)
      expect((await text).match(/^# TYPE changegate_process_open_fds gauge$/gm)).toHaveLength(1)
    } finally {
      for (const fd of opened) closeSync(fd)
    }
    expect(await openFds(registry.metrics())).toBeLessThanOrEqual(before + 2)
  })
})
