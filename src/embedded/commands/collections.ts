/** Collection and database administration: create, collMod, drop, renameCollection, dropDatabase, listings. */
import type { Document } from 'bson'
import { ErrorCode, mongoError } from '../errors.js'
import type { Collection } from '../storage/collection.js'
import { compileFilter } from '../storage/query.js'
import { boolArg, collectionNs, documentArg, numberArg } from './args.js'
import type { Handler, HandlerTable } from './context.js'
import { firstBatchReply } from './cursor-commands.js'
import { createOptions, modifiedOptions } from './collection-options.js'
import { modifyIndex } from './indexes.js'

/** Fields every command may carry that are not options of the command itself. */
export const GENERIC_FIELDS = new Set([
  '$db', 'lsid', 'txnNumber', '$clusterTime', '$readPreference', 'writeConcern', 'readConcern', 'comment',
  'maxTimeMS', 'apiVersion', 'apiStrict', 'apiDeprecationErrors', '$audit', 'autocommit', 'startTransaction',
])

function commandOptions(cmd: Document, name: string): Document {
  const options: Document = {}
  for (const key in cmd) if (key !== name && !GENERIC_FIELDS.has(key)) options[key] = cmd[key]
  return options
}

const create: Handler = (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  server.storage.createCollection(ns, createOptions(commandOptions(cmd, 'create')))
  return {}
}

const collMod: Handler = (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  const coll = server.storage.getCollection(ns)
  if (!coll) throw mongoError(ErrorCode.NamespaceNotFound, `ns does not exist: ${ns.db}.${ns.coll}`)
  const given = commandOptions(cmd, 'collMod')
  const options = modifiedOptions(coll.options, given)
  const index = given.index === undefined ? undefined : modifyIndex(coll, given.index)
  const stateBeforeChange: Document = { collectionOptions: { uuid: coll.uuid, ...coll.options } }
  if (index) stateBeforeChange.indexOptions = index.before
  const description: Document = { ...given }
  if (index) description.index = { name: index.name, ...(given.index as Document) }
  for (const field of ['validator', 'validationLevel', 'validationAction', 'changeStreamPreAndPostImages']) {
    if (field in given) description[field] = options[field]
  }
  coll.options = options
  server.storage.logCatalogChange(coll, { op: 'modify', ns: coll.ns, description, stateBeforeChange })
  return index?.reply ?? {}
}

const drop: Handler = (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  const coll = server.storage.getCollection(ns)
  const nIndexesWas = coll?.indexes.length
  server.storage.drop(ns)
  return coll ? { nIndexesWas, ns: `${ns.db}.${ns.coll}` } : {}
}

const dropDatabase: Handler = (_cmd, req, server) => {
  server.storage.dropDatabase(req.db)
  return {}
}

function splitNs(value: unknown, field: string): { db: string; coll: string } {
  if (typeof value !== 'string' || !value.includes('.')) {
    throw mongoError(ErrorCode.InvalidNamespace, `Invalid namespace specified '${String(value)}' for ${field}`)
  }
  const dot = value.indexOf('.')
  return { db: value.slice(0, dot), coll: value.slice(dot + 1) }
}

const renameCollection: Handler = (cmd, req, server) => {
  if (req.db !== 'admin') {
    throw mongoError(ErrorCode.Unauthorized, 'renameCollection may only be run against the admin database.')
  }
  const from = splitNs(cmd.renameCollection, 'renameCollection')
  const to = splitNs(cmd.to, 'to')
  if (from.db === to.db && from.coll === to.coll) {
    throw mongoError(ErrorCode.IllegalOperation, "Can't rename a collection to itself")
  }
  if (!server.storage.getCollection(from)) {
    throw mongoError(ErrorCode.NamespaceNotFound, `Source collection ${from.db}.${from.coll} does not exist`)
  }
  server.storage.rename(from, to, boolArg(cmd, 'dropTarget', false))
  return {}
}

function collectionEntry(coll: Collection): Document {
  return {
    name: coll.ns.coll,
    type: 'collection',
    options: { ...coll.options },
    info: { readOnly: false, uuid: coll.uuid },
    idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
  }
}

const listCollections: Handler = (cmd, req, server) => {
  const filter = compileFilter(documentArg(cmd, 'filter'))
  const nameOnly = boolArg(cmd, 'nameOnly', false)
  const entries = server.storage
    .collections(req.db)
    .map(collectionEntry)
    .filter((entry) => filter(entry))
    .map((entry) => (nameOnly ? { name: entry.name, type: entry.type } : entry))
  const cursor = documentArg(cmd, 'cursor')
  return firstBatchReply(server, `${req.db}.$cmd.listCollections`, entries, {
    batchSize: cursor ? numberArg(cursor, 'batchSize') : undefined,
  })
}

function approximateSize(coll: Collection): number {
  return coll.records.size * 64
}

const listDatabases: Handler = (cmd, _req, server) => {
  const filter = compileFilter(documentArg(cmd, 'filter'))
  const nameOnly = boolArg(cmd, 'nameOnly', false)
  const system = ['admin', 'config', 'local'].map((name) => ({ name, sizeOnDisk: 8192, empty: false }))
  const user = server.storage
    .databases()
    .filter((name) => !['admin', 'config', 'local'].includes(name))
    .map((name) => {
      const size = server.storage.collections(name).reduce((sum, coll) => sum + approximateSize(coll), 0)
      return { name, sizeOnDisk: 8192 + size, empty: false }
    })
  const databases = [...system, ...user].filter((db) => filter(db))
  const totalSize = databases.reduce((sum, db) => sum + db.sizeOnDisk, 0)
  if (nameOnly) return { databases: databases.map(({ name }) => ({ name })) }
  return { databases, totalSize, totalSizeMb: Math.round(totalSize / 1024 / 1024) }
}

const dbStats: Handler = (_cmd, req, server) => {
  const colls = server.storage.collections(req.db)
  const objects = colls.reduce((sum, coll) => sum + coll.records.size, 0)
  const dataSize = colls.reduce((sum, coll) => sum + approximateSize(coll), 0)
  return {
    db: req.db,
    collections: colls.length,
    views: 0,
    objects,
    avgObjSize: objects ? dataSize / objects : 0,
    dataSize,
    storageSize: dataSize,
    indexes: colls.reduce((sum, coll) => sum + coll.indexes.length, 0),
    indexSize: 0,
    scaleFactor: 1,
  }
}

const replSetStepDown: Handler = (_cmd, _req, server) => {
  server.changeStreams.stepDown()
  return {}
}

export const collectionCommands: HandlerTable = {
  create,
  collMod,
  drop,
  dropDatabase,
  renameCollection,
  listCollections,
  listDatabases,
  dbStats,
  replSetStepDown,
}
