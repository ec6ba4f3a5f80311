import { OPERATION_TYPES } from '../../streams/filters/compiler.js'
import type { Builder } from '../builder.js'

export interface FieldChange {
  readonly path: string
  readonly value: unknown
}

const OPERATION_DESCRIPTIONS: Readonly<Record<(typeof OPERATION_TYPES)[number], string>> = {
  INSERT: 'A document was inserted',
  UPDATE: 'A document was updated in place (see updatedFields and removedFields)',
  REPLACE: 'A document was replaced whole (every field counts as changed)',
  DELETE: 'A document was deleted (its pre-image, where recorded, is the `…Before` field)',
}

/** Types every configuration shares: operation types, transitions, field changes. */
export function addCommonTypes(builder: Builder) {
  const OperationType = builder.enumType('OperationType', {
    description: 'What kind of write produced a change event',
    values: Object.fromEntries(OPERATION_TYPES.map((t) => [t, { value: t, description: OPERATION_DESCRIPTIONS[t] }])) as Record<
      (typeof OPERATION_TYPES)[number],
      { value: (typeof OPERATION_TYPES)[number]; description: string }
    >,
  })
  const Transition = builder.enumType('Transition', {
    description:
      "How a change moved the document relative to the subscription's document filter (`where` and the document shorthands), judged on the document exactly as it was just before and just after that change",
    values: {
      ENTERED: { value: 'ENTERED', description: 'Matches after the change but not before: an insert, or an update that made it match (or moved it into your tenant)' },
      UPDATED: { value: 'UPDATED', description: 'Matched before the change and still matches after it' },
      LEFT: { value: 'LEFT', description: 'Matched before the change but not after: a delete, or an update that made it stop matching (or moved it to another tenant)' },
    } as const,
  })
  const FieldChangeRef = builder.objectRef<FieldChange>('FieldChange').implement({
    description: 'One field an update set',
    fields: (t) => ({
      path: t.exposeString('path', { description: 'Dotted path of the field, as MongoDB reports it (e.g. `status`, `items.0.quantity`)' }),
      value: t.field({
        type: 'JSON',
        nullable: true,
        description: 'The new value as relaxed Extended JSON (stored values: enums as stored, dates as `{"$date": …}`)',
        resolve: (c) => c.value,
      }),
    }),
  })
  return { OperationType, Transition, FieldChange: FieldChangeRef }
}

export type CommonTypes = ReturnType<typeof addCommonTypes>
