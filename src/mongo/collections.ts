import { MongoServerError, type Db } from 'mongodb'

export const COLLECTIONS = ['orders', 'users'] as const

const NAMESPACE_EXISTS = 48

/**
 * Makes sure both collections exist and record pre- and post-images: LEFT transitions and the tenant check on
 * deletes need the pre-image (MongoDB 6+).
 */
export async function ensureCollections(db: Db): Promise<void> {
  for (const name of COLLECTIONS) {
    try {
      await db.createCollection(name, { changeStreamPreAndPostImages: { enabled: true } })
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === NAMESPACE_EXISTS)) throw error
      await db.command({ collMod: name, changeStreamPreAndPostImages: { enabled: true } })
    }
  }
  await db.collection('orders').createIndex({ tenantId: 1, customerId: 1 })
  await db.collection('users').createIndex({ tenantId: 1, email: 1 }, { unique: true })
}
