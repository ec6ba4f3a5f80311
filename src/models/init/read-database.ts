/** The collections of a database as inference inputs: validator from listCollections, sample on demand. */
import type { Collection, Db, Document } from 'mongodb'
import type { CollectionInput } from './infer-model.js'

/** At most this many documents are read from a collection without a usable validator. */
export const SAMPLE_SIZE = 1000

/** Documents with their stored number types (Int32, Double, Long wrappers), so Int and Float can be told apart. */
async function sampleOf(collection: Collection): Promise<Document[]> {
  const options = { promoteValues: false }
  const count = await collection.estimatedDocumentCount()
  if (count <= SAMPLE_SIZE) return collection.find({}, options).limit(SAMPLE_SIZE).toArray()
  return collection.aggregate([{ $sample: { size: SAMPLE_SIZE } }], options).toArray()
}

/** Plain collections of `db` by name (views, time series and `system.*` are left out). */
export async function readCollections(db: Db): Promise<CollectionInput[]> {
  const entries = await db.listCollections({}, { nameOnly: false }).toArray()
  return entries
    .filter((entry) => (entry.type ?? 'collection') === 'collection' && !entry.name.startsWith('system.'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((entry) => {
      const options: Document = 'options' in entry && entry.options ? entry.options : {}
      return { name: entry.name, validator: options.validator, sample: () => sampleOf(db.collection(entry.name)) }
    })
}
