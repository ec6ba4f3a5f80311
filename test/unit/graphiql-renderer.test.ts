import { describe, expect, it, vi } from 'vitest'

const loads = vi.hoisted(() => ({ count: 0 }))

vi.mock('@graphql-yoga/render-graphiql', async (importOriginal) => {
  loads.count++
  return importOriginal()
})

const { createOfflineGraphiQLRenderer, graphiqlOptions } = await import('../../src/server/graphiql.js')

describe('offline GraphiQL renderer', () => {
  it('loads the asset module at the first page asked for, renders once per set of options, with every asset inline', async () => {
    const render = createOfflineGraphiQLRenderer()
    expect(loads.count).toBe(0)
    const options = graphiqlOptions({ authorization: 'Bearer x' })
    const first = await render(options)
    expect(loads.count).toBe(1)
    expect(first).toContain('<title>changegate</title>')
    expect(first).not.toMatch(/<script[^>]+src="https?:/)
    expect(await render({ ...options })).toBe(first)
    const other = await render(graphiqlOptions({}))
    expect(other).not.toBe(first)
    expect(loads.count).toBe(1)
  })
})
