import { describe, expect, it } from 'vitest'
import { enumValues, modelNameFor, singularize, uniqueModelNames } from '../../src/models/init/names.js'

describe('model names', () => {
  it('is the PascalCase singular of the collection name', () => {
    expect(modelNameFor('tickets')).toBe('Ticket')
    expect(modelNameFor('order_items')).toBe('OrderItem')
    expect(modelNameFor('categories')).toBe('Category')
    expect(modelNameFor('orderItems')).toBe('OrderItem')
    expect(modelNameFor('audit-log')).toBe('AuditLog')
    expect(modelNameFor('addresses')).toBe('Address')
    expect(modelNameFor('boxes')).toBe('Box')
    expect(modelNameFor('people')).toBe('Person')
    expect(modelNameFor('status')).toBe('Status')
    expect(modelNameFor('2024_events')).toBe('Model2024Event')
    expect(modelNameFor('queries')).toBe('QueryModel')
  })

  it('singularises the common English endings', () => {
    expect(['days', 'batches', 'wishes', 'classes', 'analysis', 'bus', 'news'].map(singularize)).toEqual([
      'day', 'batch', 'wish', 'class', 'analysis', 'bus', 'news',
    ])
  })

  it('numbers names that two collections would share', () => {
    expect(uniqueModelNames(['ticket', 'tickets', 'Tickets', 'users'])).toEqual(['Ticket', 'Ticket2', 'Ticket3', 'User'])
  })
})

describe('enum values', () => {
  it('maps CONSTANT_CASE names to the stored strings, deduplicated', () => {
    expect(enumValues(['low', 'veryHigh', 'very-high', 'low', 'null', 'déjà vu ✓', '高', '低'])).toEqual({
      LOW: 'low', VERY_HIGH: 'veryHigh', VERY_HIGH_2: 'very-high', NULL: 'null', DEJA_VU: 'déjà vu ✓', VALUE: '高', VALUE_2: '低',
    })
  })
})
