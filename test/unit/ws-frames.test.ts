import { MessageType, stringifyMessage } from 'graphql-ws'
import { describe, expect, it } from 'vitest'
import { preparePayload, spliceFrame } from '../../src/server/ws-frames.js'

/** The frame graphql-ws builds for a payload, as `send` would write it. */
const frameFor = (id: string, payload: unknown) =>
  spliceFrame(stringifyMessage({ id, type: MessageType.Next, payload: payload as Record<string, unknown> }))

describe('prepared next frames', () => {
  it('are byte-identical to the frames graphql-ws serializes itself, whatever the id', () => {
    const result = { data: { orderChanged: { cursor: 'c1', node: { id: 'o"1', total: 12.5, tags: ['a', '\u2028'] } } }, extensions: { n: 1 } }
    for (const id of ['1', 'sub-"quoted"', 'ü\\n', '"payload":"x"}']) {
      expect(frameFor(id, preparePayload(result))).toBe(stringifyMessage({ id, type: MessageType.Next, payload: result }))
      expect(JSON.parse(frameFor(id, preparePayload(result)))).toEqual({ id, type: 'next', payload: result })
    }
  })

  it('serialize one result once, however many frames carry it', () => {
    let reads = 0
    const result = {
      get data() {
        reads++
        return { n: 1 }
      },
    }
    const frames = ['a', 'b', 'c'].map((id) => frameFor(id, preparePayload(result)))
    expect(frames).toEqual(['a', 'b', 'c'].map((id) => `{"id":"${id}","type":"next","payload":{"data":{"n":1}}}`))
    expect(reads).toBe(1)
  })

  it('leave results with errors, and frames without a prepared payload, to graphql-ws', () => {
    expect(preparePayload({ data: null, errors: [] })).toBeUndefined()
    const complete = stringifyMessage({ id: '1', type: MessageType.Complete })
    expect(spliceFrame(complete)).toBe(complete)
  })
})
