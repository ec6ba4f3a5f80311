import type { Model } from '../models/index.js'

/** A ready-to-run subscription on `model`, for GraphiQL and the console to open on. */
export function exampleSubscription(model: Model): string {
  const fields = model.fields
    .filter((f) => (f.kind === 'scalar' || f.kind === 'enum') && !f.list && f.name !== model.tenantField)
    .slice(0, 5)
    .map((f) => f.name)
  return `# Run this subscription (▶), then watch ${model.names.type} changes arrive on the right.
subscription {
  ${model.names.subscription} {
    cursor operationType transition documentId
    ${model.names.single} { ${['id', ...fields].join(' ')} }
    updatedFields { path value }
  }
}
`
}
