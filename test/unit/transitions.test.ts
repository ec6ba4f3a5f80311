import { describe, expect, it } from 'vitest'
import { compileDocumentPredicate } from '../../src/streams/filters/matcher.js'
import { compileOrderFilter } from '../fixtures/models.js'
import { computeTransition, visibleImages } from '../../src/streams/filters/transitions.js'

const A = 'tenant-a'
const B = 'tenant-b'
const shipped = compileDocumentPredicate(compileOrderFilter({ status: ['SHIPPED'] }, A).documentFilter)
const anything = compileDocumentPredicate(compileOrderFilter(null, A).documentFilter)
const doc = (tenantId: string, status: string) => ({ _id: 1, tenantId, status, totalAmount: 10 })

describe('computeTransition', () => {
  it.each([
    ['update within the filter', doc(A, 'shipped'), doc(A, 'shipped'), A, shipped, 'UPDATED'],
    ['update into the filter', doc(A, 'pending'), doc(A, 'shipped'), A, shipped, 'ENTERED'],
    ['update out of the filter', doc(A, 'shipped'), doc(A, 'delivered'), A, shipped, 'LEFT'],
    ['update outside the filter', doc(A, 'pending'), doc(A, 'confirmed'), A, shipped, null],
    ['insert of a matching document', null, doc(A, 'shipped'), A, shipped, 'ENTERED'],
    ['insert of another document', undefined, doc(A, 'pending'), A, shipped, null],
    ['delete of a matching document', doc(A, 'shipped'), null, A, shipped, 'LEFT'],
    ['delete of another document', doc(A, 'pending'), undefined, A, shipped, null],
    ['delete without pre-image', null, null, A, anything, null],
    ['update without pre-image', undefined, doc(A, 'shipped'), A, shipped, 'ENTERED'],
    ['update of another tenant', doc(B, 'shipped'), doc(B, 'shipped'), A, shipped, null],
    ['tenant change, old tenant', doc(A, 'shipped'), doc(B, 'shipped'), A, shipped, 'LEFT'],
    ['tenant change, new tenant', doc(A, 'shipped'), doc(B, 'shipped'), B, anything, 'ENTERED'],
    ['tenant change, old tenant, no filter', doc(A, 'pending'), doc(B, 'pending'), A, anything, 'LEFT'],
    ['tenantId missing', { _id: 1, status: 'shipped' }, { _id: 1, status: 'shipped' }, A, anything, null],
  ] as const)('%s → %s', (_name, before, after, tenant, matches, expected) => {
    expect(computeTransition(before, after, tenant, 'tenantId', matches)).toBe(expected)
  })
})

describe('visibleImages', () => {
  it('hides the other tenant’s image on a tenant change', () => {
    const before = doc(A, 'shipped')
    const after = doc(B, 'shipped')
    expect(visibleImages(before, after, A, 'tenantId')).toEqual({ before, after: null })
    expect(visibleImages(before, after, B, 'tenantId')).toEqual({ before: null, after })
    expect(visibleImages(before, doc(A, 'delivered'), A, 'tenantId')).toEqual({ before, after: doc(A, 'delivered') })
    expect(visibleImages(undefined, null, A, 'tenantId')).toEqual({ before: null, after: null })
  })
})
