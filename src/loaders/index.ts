import DataLoader from 'dataloader'
import { ObjectId, type Db, type Document } from 'mongodb'
import type { Model } from '../models/index.js'
import { idString } from '../mongo/ids.js'

export type DocumentLoader = DataLoader<string, Document | null>

/** Loaders by model type name, created on first use. */
export interface Loaders {
  get(model: Model): DocumentLoader
}

const HEX24 = /^[0-9a-fA-F]{24}$/

/**
 * Batches lookups by id (24-hex for ObjectId ids) into one `$in` query, scoped to the tenant: documents of other
 * tenants are null. A model without a tenant field is not scoped.
 */
export function createDocumentLoader(
  db: Db,
  model: Model,
  tenant: string,
  onBatch?: (collection: string, size: number) => void,
): DocumentLoader {
  const { collection, tenantField, idType } = model
  return new DataLoader<string, Document | null>(
    async (ids) => {
      onBatch?.(collection, ids.length)
      const keys = idType === 'ObjectId' ? ids.filter((id) => HEX24.test(id)).map((id) => ObjectId.createFromHexString(id)) : [...ids]
      const query: Document = { _id: { $in: keys } }
      if (tenantField !== null) query[tenantField] = { $eq: tenant }
      const docs = keys.length > 0 ? await db.collection(collection).find(query).toArray() : []
      const byId = new Map(docs.map((d) => [idString(d._id), d]))
      return ids.map((id) => byId.get(id) ?? null)
    },
    { maxBatchSize: 500 },
  )
}

/** Per request (queries) or per event and tenant (subscriptions): one batched lookup per model however many fields ask. */
export function createLoaders(db: Db, tenant: string, onBatch?: (collection: string, size: number) => void): Loaders {
  return new TenantLoaders(db, tenant, onBatch)
}

/** A class, its map made on first use: every subscription's context holds one, most never look anything up. */
class TenantLoaders implements Loaders {
  readonly #db: Db
  readonly #tenant: string
  readonly #onBatch: ((collection: string, size: number) => void) | undefined
  #loaders: Map<Model, DocumentLoader> | undefined

  constructor(db: Db, tenant: string, onBatch?: (collection: string, size: number) => void) {
    this.#db = db
    this.#tenant = tenant
    this.#onBatch = onBatch
  }

  get(model: Model): DocumentLoader {
    const loaders = (this.#loaders ??= new Map())
    let loader = loaders.get(model)
    if (!loader) loaders.set(model, (loader = createDocumentLoader(this.#db, model, this.#tenant, this.#onBatch)))
    return loader
  }
}
