import DataLoader from 'dataloader'
import { ObjectId, type Db, type Document } from 'mongodb'

export type DocumentLoader = DataLoader<string, Document | null>
export interface Loaders {
  readonly users: DocumentLoader
  readonly orders: DocumentLoader
}

/** Batches lookups by 24-hex id into one `$in` query, scoped to the tenant: other tenants' documents are null. */
export function createDocumentLoader(
  db: Db,
  collection: 'users' | 'orders',
  tenant: string,
  onBatch?: (collection: string, size: number) => void,
): DocumentLoader {
  return new DataLoader<string, Document | null>(
    async (ids) => {
      onBatch?.(collection, ids.length)
      const docs = await db
        .collection(collection)
        .find({ _id: { $in: ids.map((id) => ObjectId.createFromHexString(id)) }, tenantId: tenant })
        .toArray()
      const byId = new Map(docs.map((d) => [(d._id as ObjectId).toHexString(), d]))
      return ids.map((id) => byId.get(id) ?? null)
    },
    { maxBatchSize: 500 },
  )
}

/** Per request (queries) or per event (subscriptions): one batched lookup however many fields ask. */
export function createLoaders(db: Db, tenant: string, onBatch?: (collection: string, size: number) => void): Loaders {
  return {
    users: createDocumentLoader(db, 'users', tenant, onBatch),
    orders: createDocumentLoader(db, 'orders', tenant, onBatch),
  }
}

const imageLoaders = new WeakMap<object, DocumentLoader>()

/** Binds a shared loader to a document every subscriber of one event receives. */
export function bindLoader(doc: object, loader: DocumentLoader): void {
  imageLoaders.set(doc, loader)
}

export function boundLoader(doc: object): DocumentLoader | undefined {
  return imageLoaders.get(doc)
}
