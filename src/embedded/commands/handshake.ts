/** Handshake and server-information commands: hello/isMaster, buildInfo, ping, sessions, status. */
import { Long, type Document } from 'bson'
import { isPlainObject } from '../bson-values.js'
import type { Handler, HandlerTable, ServerParts } from './context.js'

export const SERVER_VERSION = '7.0.14'
const VERSION_ARRAY = [7, 0, 14, 0]

export const hostAndPort = (server: ServerParts) => {
  const host = server.state.host.includes(':') ? `[${server.state.host}]` : server.state.host
  return `${host}:${server.state.port}`
}

const hello: Handler = (cmd, req, server) => {
  if (isPlainObject(cmd.client)) {
    const application = cmd.client.application as Document | undefined
    if (typeof application?.name === 'string') req.connection.appName = application.name
  }
  const me = hostAndPort(server)
  const opTime = { ts: server.oplog.clusterTime, t: Long.fromInt(1) }
  const writeDate = new Date(server.oplog.clusterTime.high * 1000)
  const reply: Document = {}
  if (cmd.helloOk === true) reply.helloOk = true
  if (req.name === 'hello') reply.isWritablePrimary = true
  else reply.ismaster = true
  Object.assign(reply, {
    hosts: [me],
    setName: server.state.setName,
    setVersion: 1,
    secondary: false,
    primary: me,
    me,
    electionId: server.electionId,
    lastWrite: { opTime, lastWriteDate: writeDate, majorityOpTime: opTime, majorityWriteDate: writeDate },
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: req.connection.id,
    minWireVersion: 0,
    maxWireVersion: 21,
    readOnly: false,
  })
  if (cmd.saslSupportedMechs !== undefined) reply.saslSupportedMechs = []
  return reply
}

const buildInfo: Handler = () => ({
  version: SERVER_VERSION,
  gitVersion: 'changegate-embedded',
  versionArray: VERSION_ARRAY,
  bits: 64,
  debug: false,
  maxBsonObjectSize: 16 * 1024 * 1024,
  storageEngines: ['inMemory'],
  modules: [],
  javascriptEngine: 'none',
  openssl: { running: 'disabled' },
})

const getParameter: Handler = (cmd) => {
  const reply: Document = {}
  if (cmd.featureCompatibilityVersion !== undefined || cmd.getParameter === '*') {
    reply.featureCompatibilityVersion = { version: '7.0' }
  }
  if (cmd.authenticationMechanisms !== undefined) reply.authenticationMechanisms = []
  return reply
}

const serverStatus: Handler = (_cmd, _req, server) => ({
  host: hostAndPort(server),
  version: SERVER_VERSION,
  process: 'mongod',
  pid: Long.fromInt(process.pid),
  uptime: Math.floor((Date.now() - server.startedAt.getTime()) / 1000),
  uptimeMillis: Long.fromNumber(Date.now() - server.startedAt.getTime()),
  localTime: new Date(),
  connections: { current: 0, available: 1000 },
  metrics: { cursor: { open: { total: Long.fromNumber(server.cursors.size) } } },
  repl: { setName: server.state.setName, isWritablePrimary: true, secondary: false, hosts: [hostAndPort(server)] },
  storageEngine: { name: 'inMemory', supportsCommittedReads: true, persistent: false },
})

const replSetGetStatus: Handler = (_cmd, _req, server) => ({
  set: server.state.setName,
  date: new Date(),
  myState: 1,
  members: [{ _id: 0, name: hostAndPort(server), health: 1, state: 1, stateStr: 'PRIMARY', self: true }],
})

const empty: Handler = () => ({})

export const handshakeCommands: HandlerTable = {
  hello,
  isMaster: hello,
  ismaster: hello,
  buildInfo,
  buildinfo: buildInfo,
  getParameter,
  getLog: (cmd) => (cmd.getLog === '*' ? { names: ['global', 'startupWarnings'] } : { totalLinesWritten: 0, log: [] }),
  ping: empty,
  killSessions: empty,
  killAllSessions: empty,
  refreshSessions: empty,
  serverStatus,
  replSetGetStatus,
  hostInfo: () => ({ system: { currentTime: new Date(), hostname: 'localhost' }, os: { type: process.platform } }),
  getCmdLineOpts: () => ({ argv: ['mongod'], parsed: {} }),
  connectionStatus: () => ({ authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] } }),
  whatsmyuri: (_cmd, req) => ({ you: req.connection.remoteAddress }),
  getFreeMonitoringStatus: () => ({ state: 'disabled' }),
  logout: empty,
}
