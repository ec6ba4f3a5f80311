/**
 * The embedded server: a TCP listener speaking the MongoDB wire protocol as a one-member replica set primary.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { ObjectId } from 'bson'
import { createChangeStreams } from './changes/index.js'
import { createOplog } from './changes/oplog.js'
import type { ServerParts } from './commands/context.js'
import { createCursorRegistry } from './commands/cursors.js'
import { createDispatcher } from './commands/dispatch.js'
import { createFailpoints } from './commands/failpoints.js'
import { commandTable } from './commands/index.js'
import { createStorage } from './storage/storage.js'
import { startTtlMonitor } from './storage/ttl.js'
import { createDocumentLocks } from './transactions/locks.js'
import { createTransactions } from './transactions/sessions.js'
import type { ServerState } from './types.js'
import { createConnection, type Connection } from './wire/connection.js'

export interface EmbeddedMongoOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number
  /** Interface to listen on and the host name advertised to clients. Default '127.0.0.1'. */
  host?: string
  /** Oplog entries kept for change streams; older history is lost. Default 100 000. */
  oplogMaxEntries?: number
  /** Replica set name. Default 'rs0'. */
  setName?: string
  /** How often expired documents of TTL indexes are deleted; 0 turns the pass off. Default 1000 (mongod: 60 s). */
  ttlIntervalMs?: number
}

export interface EmbeddedMongo {
  /** `mongodb://HOST:PORT/?replicaSet=rs0` */
  readonly uri: string
  readonly host: string
  readonly port: number
  /** Simulates a primary step-down: open change streams fail with a resumable error. */
  stepDown(): void
  /** Closes the listener and every connection, and ends every wait. */
  stop(): Promise<void>
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error)
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

const advertised = (host: string) => (host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host)

export async function startEmbeddedMongo(options: EmbeddedMongoOptions = {}): Promise<EmbeddedMongo> {
  const host = options.host ?? '127.0.0.1'
  const oplog = createOplog({ maxEntries: options.oplogMaxEntries ?? 100_000 })
  const locks = createDocumentLocks()
  const storage = createStorage(oplog, locks)
  const transactions = createTransactions(storage, oplog, locks)
  const ttl = startTtlMonitor(storage, options.ttlIntervalMs ?? 1000)
  const changeStreams = createChangeStreams({ oplog, storage })
  const cursors = createCursorRegistry()
  const abort = new AbortController()
  const state: { host: string; port: number; setName: string } = {
    host: advertised(host),
    port: options.port ?? 0,
    setName: options.setName ?? 'rs0',
  }
  const parts: ServerParts = {
    state: state as ServerState,
    oplog,
    storage,
    cursors,
    changeStreams,
    failpoints: createFailpoints(),
    transactions,
    electionId: new ObjectId('7fffffff0000000000000001'),
    startedAt: new Date(),
    signal: abort.signal,
  }
  const dispatch = createDispatcher(parts, commandTable)
  const connections = new Set<Connection>()
  let nextConnectionId = 1

  const server = createServer((socket: Socket) => {
    const connection = createConnection(socket, nextConnectionId++, dispatch, (closed) => connections.delete(closed))
    connections.add(connection)
  })
  server.on('error', () => {
    // Listener errors after start (e.g. EMFILE on accept) must not take the process down.
  })
  await listen(server, state.port, host)
  const address = server.address()
  if (address && typeof address === 'object') state.port = address.port

  const hostPort = state.host.includes(':') ? `[${state.host}]:${state.port}` : `${state.host}:${state.port}`
  let stopping: Promise<void> | undefined

  return {
    uri: `mongodb://${hostPort}/?replicaSet=${encodeURIComponent(state.setName)}`,
    host: state.host,
    port: state.port,
    stepDown: () => changeStreams.stepDown(),
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        abort.abort()
        server.close(() => resolve())
        for (const connection of connections) connection.close()
        connections.clear()
        cursors.stop()
        changeStreams.stop()
        transactions.stop()
        ttl.stop()
      })
      return stopping
    },
  }
}
