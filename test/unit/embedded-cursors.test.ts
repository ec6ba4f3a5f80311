import { Long } from 'bson'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createArrayCursor, createCursorRegistry, takeBatch } from '../../src/embedded/commands/cursors.js'
import { createFailpoints } from '../../src/embedded/commands/failpoints.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('cursor registry', () => {
  it('closes cursors left idle past the timeout, but not busy ones', () => {
    vi.useFakeTimers()
    const registry = createCursorRegistry(1000)
    const idle = { id: registry.nextId(), ns: 'd.c', getMore: vi.fn(), close: vi.fn() }
    const busy = { id: registry.nextId(), ns: 'd.c', getMore: vi.fn(), close: vi.fn() }
    registry.register(idle)
    registry.register(busy)
    registry.touch(busy.id, true)
    vi.advanceTimersByTime(2500)
    expect(registry.get(idle.id)).toBeUndefined()
    expect(idle.close).toHaveBeenCalledOnce()
    expect(registry.get(busy.id)).toBe(busy)
    registry.stop()
    expect(busy.close).toHaveBeenCalledOnce()
  })

  it('hands out distinct positive ids', () => {
    const registry = createCursorRegistry()
    const ids = new Set(Array.from({ length: 1000 }, () => registry.nextId()).map((id) => {
      expect(id.isNegative() || id.isZero()).toBe(false)
      return id.toString()
    }))
    expect(ids.size).toBe(1000)
    registry.stop()
  })

  it('serves array cursors in batches until exhausted', async () => {
    const docs = Array.from({ length: 5 }, (_, i) => ({ i }))
    const cursor = createArrayCursor(Long.fromInt(1), 'd.c', docs, 2)
    expect(await cursor.getMore(2, undefined)).toEqual({ docs: [{ i: 2 }, { i: 3 }], exhausted: false })
    expect(await cursor.getMore(undefined, undefined)).toEqual({ docs: [{ i: 4 }], exhausted: true })
    expect(takeBatch(docs, 0, 0)).toHaveLength(5)
  })
})

describe('failCommand modes', () => {
  const plain = { retryableWrite: false, changeStream: false }
  const configure = (mode: unknown) => {
    const failpoints = createFailpoints()
    failpoints.configure({ configureFailPoint: 'failCommand', mode, data: { failCommands: ['find'], errorCode: 2 } })
    return failpoints
  }

  it('fires n times with { times: n }', () => {
    const failpoints = configure({ times: 2 })
    const fired = Array.from({ length: 4 }, () => failpoints.check('find', undefined, plain) !== undefined)
    expect(fired).toEqual([true, true, false, false])
    expect(failpoints.active).toBe(false)
  })

  it('lets n through with { skip: n }, then fires', () => {
    const failpoints = configure({ skip: 2 })
    const fired = Array.from({ length: 4 }, () => failpoints.check('find', undefined, plain) !== undefined)
    expect(fired).toEqual([false, false, true, true])
  })

  it('ignores other commands and adds the retryable label only to retryable writes without labels', () => {
    const failpoints = createFailpoints()
    failpoints.configure({ configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['insert'], errorCode: 91 } })
    expect(failpoints.check('find', undefined, plain)).toBeUndefined()
    expect(failpoints.check('insert', undefined, { retryableWrite: true, changeStream: false })?.error).toMatchObject({ code: 91, codeName: 'ShutdownInProgress', errorLabels: ['RetryableWriteError'] })
    expect(failpoints.check('insert', undefined, plain)?.error).not.toHaveProperty('errorLabels')
  })

  it('rejects an invalid mode', () => {
    expect(() => configure('sometimes')).toThrow(expect.objectContaining({ code: 2 }))
  })

  it('labels resumable errors of change stream commands, unless labels are given', () => {
    const failpoints = createFailpoints()
    failpoints.configure({ configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['getMore'], errorCode: 6 } })
    const stream = { retryableWrite: false, changeStream: true }
    expect(failpoints.check('getMore', undefined, stream)?.error).toMatchObject({ errorLabels: ['ResumableChangeStreamError'] })
    expect(failpoints.check('getMore', undefined, plain)?.error).not.toHaveProperty('errorLabels')
    failpoints.configure({ configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['getMore'], errorCode: 6, errorLabels: [] } })
    expect(failpoints.check('getMore', undefined, stream)?.error).not.toHaveProperty('errorLabels')
  })

  it('refuses fail points it does not have with FailPointSetFailed', () => {
    expect(() => createFailpoints().configure({ configureFailPoint: 'hangBeforeNothing', mode: 'alwaysOn' })).toThrow(
      expect.objectContaining({ code: 266, codeName: 'FailPointSetFailed', message: 'hangBeforeNothing not found' }),
    )
  })
})
