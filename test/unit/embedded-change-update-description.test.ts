import { Double, Long, ObjectId } from 'bson'
import { describe, expect, it } from 'vitest'
import { describeUpdate } from '../../src/embedded/changes/update-description.js'

const id = new ObjectId()

describe('updateDescription from before/after images', () => {
  it('reports changed and added top-level fields, updates before inserts', () => {
    const d = describeUpdate({ _id: id, a: 1, b: 'x', c: true }, { _id: id, a: 2, b: 'x', c: false, d: 4 })
    expect(d).toEqual({ updatedFields: { a: 2, c: false, d: 4 }, removedFields: [], truncatedArrays: [], disambiguatedPaths: {} })
    expect(Object.keys(d.updatedFields)).toEqual(['a', 'c', 'd'])
  })

  it('reports removed fields', () => {
    const d = describeUpdate({ _id: id, a: 1, b: 2, c: 3 }, { _id: id, c: 3 })
    expect(d).toEqual({ updatedFields: {}, removedFields: ['a', 'b'], truncatedArrays: [], disambiguatedPaths: {} })
    expect(describeUpdate({ _id: id, a: 1, b: 2 }, { _id: id, a: 1 }).removedFields).toEqual(['b'])
  })

  it('reports nested changes as dotted paths, after the fields of the enclosing level', () => {
    const before = { _id: id, a: 1, profile: { name: 'x', address: { city: 'A', zip: '1' } }, z: 1 }
    const after = { _id: id, a: 2, profile: { name: 'x', address: { city: 'B', zip: '1' } }, z: 2 }
    const d = describeUpdate(before, after)
    expect(d.updatedFields).toEqual({ a: 2, z: 2, 'profile.address.city': 'B' })
    expect(Object.keys(d.updatedFields)).toEqual(['a', 'z', 'profile.address.city'])
  })

  it('reports nested removals as dotted paths', () => {
    const d = describeUpdate({ _id: id, p: { a: 1, b: 2 } }, { _id: id, p: { a: 1 } })
    expect(d).toEqual({ updatedFields: {}, removedFields: ['p.b'], truncatedArrays: [], disambiguatedPaths: {} })
  })

  it('reports appended array elements as arr.N', () => {
    const items = [1, 2, 3, 4, 5, 6]
    const d = describeUpdate({ _id: id, items }, { _id: id, items: [...items, 7] })
    expect(d).toEqual({ updatedFields: { 'items.6': 7 }, removedFields: [], truncatedArrays: [], disambiguatedPaths: {} })
  })

  it('reports a changed field inside an array element as arr.N.field', () => {
    const item = (q: number) => ({ productId: 'p1', quantity: q, unitPrice: 9.5 })
    const d = describeUpdate({ _id: id, items: [item(1), item(2)] }, { _id: id, items: [item(1), item(5)] })
    expect(d.updatedFields).toEqual({ 'items.1.quantity': 5 })
  })

  it('reports a shrunk array with truncatedArrays', () => {
    const d = describeUpdate({ _id: id, tags: ['a', 'b', 'c', 'd', 'e'] }, { _id: id, tags: ['a', 'b', 'c'] })
    expect(d).toEqual({ updatedFields: {}, removedFields: [], truncatedArrays: [{ field: 'tags', newSize: 3 }], disambiguatedPaths: {} })
  })

  it('reports the whole array when that is smaller than describing each element', () => {
    const d = describeUpdate({ _id: id, tags: ['a', 'b'] }, { _id: id, tags: ['x', 'y'] })
    expect(d).toEqual({ updatedFields: { tags: ['x', 'y'] }, removedFields: [], truncatedArrays: [], disambiguatedPaths: {} })
  })

  it('reports a type change with the whole new value', () => {
    const d = describeUpdate({ _id: id, a: { b: 1 }, c: [1] }, { _id: id, a: [1], c: 'x' })
    expect(d.updatedFields).toEqual({ a: [1], c: 'x' })
  })

  it('treats a different BSON numeric type as a change, and equal wrappers as none', () => {
    expect(describeUpdate({ _id: id, n: 1 }, { _id: id, n: new Double(1) }).updatedFields).toEqual({ n: new Double(1) })
    expect(describeUpdate({ _id: id, n: Long.fromNumber(5) }, { _id: id, n: Long.fromNumber(5) }).updatedFields).toEqual({})
  })

  it('reports a field that moved behind a new one as updated', () => {
    const d = describeUpdate({ _id: id, a: 1, b: 2 }, { _id: id, a: 1, x: 1, b: 2 })
    expect(d.updatedFields).toEqual({ x: 1, b: 2 })
    expect(d.removedFields).toEqual([])
  })

  it('disambiguates paths whose field names look like array indexes or hold dots', () => {
    const numericName = describeUpdate({ _id: id, a: { '1': 1 } }, { _id: id, a: { '1': 2 } })
    expect(numericName.disambiguatedPaths).toEqual({ 'a.1': ['a', '1'] })
    const others = [{ name: 'other element, long enough to be described element by element' }]
    const inArray = describeUpdate({ _id: id, a: [{ '1': 1 }, ...others] }, { _id: id, a: [{ '1': 2 }, ...others] })
    expect(inArray.disambiguatedPaths).toEqual({ 'a.0.1': ['a', 0, '1'] })
    const dotted = describeUpdate({ _id: id, p: { 'x.y': 1, z: 1 } }, { _id: id, p: { z: 1 } })
    expect(dotted.removedFields).toEqual(['p.x.y'])
    expect(dotted.disambiguatedPaths).toEqual({ 'p.x.y': ['p', 'x.y'] })
    const plain = describeUpdate({ _id: id, a: [1, 2, 3, 4, 5, 6], b: 1 }, { _id: id, a: [1, 2, 3, 4, 5, 7], b: 2 })
    expect(plain.disambiguatedPaths).toEqual({})
  })
})
