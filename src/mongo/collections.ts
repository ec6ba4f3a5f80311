import { MongoServerError, type Db } from 'mongodb'

const NAMESPACE_EXISTS = 48

export interface CollectionSpec {
  readonly name: string
  /** Indexed with `_id` for tenant-scoped lookups and pages; null for a collection without tenants. */
  readonly tenantField: string | null
}

/**
 * Makes sure each collection exists and records pre- and post-images: LEFT transitions and the tenant check on
 * deletes need the pre-image (MongoDB 6+). Returns one line per collection where that could not be done (the
 * gateway still serves it, without pre-images).
 */
export async function ensureCollections(db: Db, collections: readonly CollectionSpec[]): Promise<string[]> {
  const problems: string[] = []
  for (const { name, tenantField } of collections) {
    try {
      try {
        await db.createCollection(name, { changeStreamPreAndPostImages: { enabled: true } })
      } catch (error) {
        if (!(error instanceof MongoServerError && error.code === NAMESPACE_EXISTS)) throw error
        await db.command({ collMod: name, changeStreamPreAndPostImages: { enabled: true } })
      }
      if (tenantField !== null) await db.collection(name).createIndex({ [tenantField]: 1, _id: 1 })
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error)
      problems.push(`collection ${name}: could not enable pre- and post-images (${reason}); LEFT transitions and deletes need them`)
    }
  }
  return problems
}
