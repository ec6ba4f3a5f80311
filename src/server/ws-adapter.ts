import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { CloseCode, type Server } from 'graphql-ws'
import { WebSocket, type WebSocketServer } from 'ws'
import type { Logger } from '../observability/logger.js'
import { createTimerWheel, type TimerWheel } from './timer-wheel.js'
import { spliceFrame } from './ws-frames.js'
import type { FrameSender } from './ws-direct.js'
import type { SocketExtra } from './ws-protocol.js'

export interface WebSocketAdapterOptions {
  /**
   * Interval between server pings. Default 15 000 ms; 0 disables keep-alive. A peer is judged dead after
   * {@link unansweredPingLimit} pings in a row went unanswered. Pings leave on one shared timer that wakes
   * {@link KEEP_ALIVE_SLOTS} times per interval, so each falls up to 1/16 of the interval after its exact time.
   */
  keepAliveMs?: number
  /**
   * The streams' slow-consumer timeout. A peer that stops reading also stops answering pings (they wait behind
   * the frames it has not read); it is judged dead only after this long plus one ping interval, so that its
   * stalled subscriptions are ended with SLOW_CONSUMER first. Default 0: dead when a ping is unanswered by the next.
   */
  slowConsumerTimeoutMs?: number
  /**
   * Called when a peer is judged dead, before it is closed with {@link UNRESPONSIVE_CLOSE}: the protocol queues
   * the end of its operations for it.
   */
  onUnresponsive?: (socket: WebSocket) => void
  /**
   * On dispose, how long sockets get to finish the close handshake before they are terminated. Default 1000 ms.
   */
  closeGraceMs?: number
  logger: Logger
  /** Called when a socket opens and when it closes (connection counts, metrics). */
  onOpen?: () => void
  onClose?: () => void
  /**
   * Frames all sockets together may be sent before the event loop gets a turn (I/O, timers, other work): past it,
   * senders wait for the next turn. Bounds how long draining a large backlog holds the loop. Default 512.
   */
  framesPerTurn?: number
}

/**
 * How a peer judged dead by the keep-alive is closed. The close frame is queued behind whatever the peer has not
 * read yet; a peer that has not completed the close handshake by the next ping is terminated.
 */
export const UNRESPONSIVE_CLOSE = { code: 4410, reason: 'Unresponsive' } as const

/**
 * Ticks of the keep-alive timer per interval. A socket is pinged at the ticks of its slot (the one its interval
 * from opening falls in), so one tick pings only the sockets that opened within that sixteenth of an interval: the
 * pings of many idle sockets are spread over the interval instead of leaving in one sweep.
 */
const KEEP_ALIVE_SLOTS = 16

/** How often, at most, the stream registry looks for stalled subscriptions (src/streams/registry.ts). */
const STALL_CHECK_MS = 1000

/**
 * Pings a peer may leave unanswered in a row; at the next ping it is judged dead. The first unanswered ping is
 * sent after the peer stopped reading, so it is judged dead at least `limit × keepAliveMs` later: the
 * slow-consumer timeout plus a margin of one ping interval (at least the registry's stall check interval). A
 * subscription the peer stalled is thus ended with SLOW_CONSUMER before its connection is judged dead, as long as
 * the peer fell behind within that margin of its last read (otherwise the protocol queues SLOW_CONSUMER for it
 * when it is judged dead). Without a slow-consumer timeout: dead when a ping is unanswered by the next.
 */
export function unansweredPingLimit(keepAliveMs: number, slowConsumerTimeoutMs = 0): number {
  if (!(slowConsumerTimeoutMs > 0)) return 1
  return Math.ceil((slowConsumerTimeoutMs + Math.max(keepAliveMs, STALL_CHECK_MS)) / keepAliveMs)
}

export interface WebSocketAdapter {
  /** Open sockets. */
  connections(): number
  /** Closes every socket with 1001 (terminating those that do not finish in time), waits for their operations to end, closes the server. */
  dispose(): Promise<void>
}

/**
 * Binds the graphql-ws protocol core to a `ws` server. Frames are written without waiting for each one's flush:
 * a socket is corked at its first frame of an event-loop turn and uncorked once at the end of it, so a turn's
 * frames leave in one write. `send` makes its caller wait while the socket's buffer is over its high-water mark
 * (until it drains), so a subscription's iterator is pulled no faster than its client reads, and once
 * {@link WebSocketAdapterOptions.framesPerTurn} frames were sent in the turn (until the next turn). `send` rejects
 * on a socket that is no longer open, which ends that subscription's loop, and that rejection never escapes.
 */
export function useWebSocketAdapter(wss: WebSocketServer, server: Server<SocketExtra>, opts: WebSocketAdapterOptions): WebSocketAdapter {
  const { logger } = opts
  const keepAliveMs = opts.keepAliveMs ?? 15_000
  const open = new Map<WebSocket, Connection>()
  const turns = createTurnBatcher(opts.framesPerTurn ?? 512)
  const keepAlive = createKeepAlive(open, keepAliveMs, unansweredPingLimit(keepAliveMs, opts.slowConsumerTimeoutMs), (socket, raw) => {
    logger.info({ remoteAddress: raw.remoteAddress, remotePort: raw.remotePort, code: UNRESPONSIVE_CLOSE.code }, 'websocket unresponsive: closing')
    opts.onUnresponsive?.(socket)
    socket.close(UNRESPONSIVE_CLOSE.code, UNRESPONSIVE_CLOSE.reason)
    setTimeout(() => socket.terminate(), keepAliveMs).unref()
  })

  // One function each for every socket's events (ws calls them with the socket as `this`), and the per-socket
  // state in one object: closures per socket cost more than the socket's own `ws` objects.
  function onSocketError(err: Error) {
    // ws closes by itself on protocol errors (1009 for an oversize frame, 1002, 1007): only note them.
    logger.debug({ err }, 'websocket error')
  }
  function onSocketMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[]) {
    open.get(this)?.receive(data)
  }
  function onSocketClose(this: WebSocket, code: number, reason: Buffer) {
    const connection = open.get(this)
    if (!connection) return
    keepAlive?.stop(this)
    opts.onClose?.()
    connection
      .closed(code, reason.toString())
      .catch((err: unknown) => logger.error({ err }, 'websocket close handling failed'))
      .finally(() => {
        open.delete(this)
        connection.settle()
      })
  }
  const shared: ConnectionShared = { turns, logger, onSocketMessage }

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    opts.onOpen?.()
    // What the connection needs of its upgrade request; the request itself (headers and all) is not kept alive.
    // The TCP socket keeps its peer's address (read when the upgrade was checked) for the unresponsive log.
    const connection = new Connection(socket, request.socket, shared)
    open.set(socket, connection)
    socket.on('error', onSocketError)
    keepAlive?.start(socket)
    connection.closed = server.opened(connection, { socket, sendFrame: connection.sendFrame })
    socket.once('close', onSocketClose)
  })

  return {
    connections: () => open.size,
    async dispose() {
      const connections = [...open.values()]
      for (const { socket } of connections) socket.close(1001, 'Going away')
      const grace = setTimeout(() => connections.forEach(({ socket }) => socket.terminate()), opts.closeGraceMs ?? 1000)
      await Promise.all(connections.map((c) => c.settled()))
      clearTimeout(grace)
      keepAlive?.dispose()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

interface ConnectionShared {
  readonly turns: ReturnType<typeof createTurnBatcher>
  readonly logger: Logger
  /** The `message` listener of every socket (`this` is the socket). */
  readonly onSocketMessage: (this: WebSocket, data: Buffer | ArrayBuffer | Buffer[]) => void
}

/**
 * What the adapter keeps per open socket, and graphql-ws's view of it (`protocol`, `send`, `close`, `onMessage`):
 * methods on one object rather than closures per socket. `sendFrame` is the one closure: it is handed around as a
 * function (ws-direct.ts).
 */
class Connection {
  readonly protocol: string
  /** Pings sent since the last pong. */
  unanswered = 0
  /** graphql-ws's close handling for this socket, set once it has opened it. */
  closed: (code?: number, reason?: string) => Promise<void> = () => Promise.resolve()
  /** Writes a frame as graphql-ws's `send` does: corked for the turn, waiting while the socket's buffer is full. */
  readonly sendFrame: FrameSender
  #handle: ((data: string) => Promise<void>) | undefined
  #settled = false
  #waiters: (() => void)[] | undefined

  constructor(
    readonly socket: WebSocket,
    readonly raw: Socket,
    private readonly shared: ConnectionShared,
  ) {
    this.protocol = socket.protocol
    const { turns } = shared
    this.sendFrame = (frame: string) => {
      if (socket.readyState !== WebSocket.OPEN) return Promise.reject(new SocketClosedError())
      turns.cork(raw)
      socket.send(frame)
      return raw.writableNeedDrain ? drained(raw) : turns.sent()
    }
  }

  send(data: string): Promise<void> | undefined {
    return this.sendFrame(spliceFrame(data))
  }

  close(code?: number, reason?: string): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(code, reason)
  }

  onMessage(handle: (data: string) => Promise<void>): void {
    this.#handle = handle
    this.socket.on('message', this.shared.onSocketMessage)
  }

  receive(data: Buffer | ArrayBuffer | Buffer[]): void {
    const { socket } = this
    this.#handle?.(text(data)).catch((err: unknown) => {
      if (socket.readyState !== WebSocket.OPEN || err instanceof SocketClosedError) return
      this.shared.logger.error({ err }, 'websocket message handling failed')
      socket.close(CloseCode.InternalServerError, 'Internal server error')
    })
  }

  /** Resolves once the socket closed and its operations ended. */
  settled(): Promise<void> {
    if (this.#settled) return Promise.resolve()
    return new Promise<void>((resolve) => (this.#waiters ??= []).push(resolve))
  }

  settle(): void {
    this.#settled = true
    const waiters = this.#waiters
    this.#waiters = undefined
    waiters?.forEach((resolve) => resolve())
  }
}

/**
 * Corks each socket at its first frame of an event-loop turn and uncorks them all at its end (`setImmediate`);
 * counts the turn's frames. `sent()` is undefined while the turn has room, else a promise of the next turn.
 */
function createTurnBatcher(framesPerTurn: number) {
  const corked = new Set<Duplex>()
  let frames = 0
  let nextTurn: Promise<void> | undefined
  let wake: (() => void) | undefined
  let scheduled = false
  const flush = () => {
    scheduled = false
    frames = 0
    for (const raw of corked) raw.uncork()
    corked.clear()
    const w = wake
    nextTurn = wake = undefined
    w?.()
  }
  const schedule = () => {
    if (scheduled) return
    scheduled = true
    setImmediate(flush)
  }
  return {
    cork(raw: Duplex) {
      if (corked.has(raw)) return
      raw.cork()
      corked.add(raw)
      schedule()
    },
    sent(): Promise<void> | undefined {
      if (++frames < framesPerTurn) return undefined
      schedule()
      return (nextTurn ??= new Promise<void>((resolve) => (wake = resolve)))
    },
  }
}

/** Resolves once the socket's buffer drained, or it closed (the next `send` then rejects). One promise per socket. */
const draining = new WeakMap<Duplex, Promise<void>>()
function drained(raw: Duplex): Promise<void> {
  if (raw.destroyed) return Promise.resolve()
  let wait = draining.get(raw)
  if (wait) return wait
  wait = new Promise<void>((resolve) => {
    const done = () => {
      raw.off('drain', done)
      raw.off('close', done)
      draining.delete(raw)
      resolve()
    }
    raw.on('drain', done)
    raw.on('close', done)
  })
  draining.set(raw, wait)
  return wait
}

class SocketClosedError extends Error {
  constructor() {
    super('WebSocket is not open')
  }
}

function text(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8')
}


/**
 * Pings every open socket every `intervalMs` on one timer wheel; once `limit` pings in a row went unanswered, calls
 * `onDead` (once) at the next. Undefined when `intervalMs` disables keep-alive.
 */
function createKeepAlive(
  open: ReadonlyMap<WebSocket, Connection>,
  intervalMs: number,
  limit: number,
  onDead: (socket: WebSocket, raw: Socket) => void,
) {
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) return undefined
  const wheel: TimerWheel<WebSocket> = createTimerWheel({ slotMs: intervalMs / KEEP_ALIVE_SLOTS, slots: KEEP_ALIVE_SLOTS, onDue: ping })
  function ping(socket: WebSocket, at: number) {
    const connection = open.get(socket)
    if (!connection) return
    if (connection.unanswered >= limit) return onDead(socket, connection.raw)
    connection.unanswered++
    socket.ping()
    // From the tick it was due at, not from now: a busy loop does not make its pings drift later.
    wheel.schedule(socket, at + intervalMs)
  }
  // One listener for every socket: ws calls it with the socket as `this`.
  function onPong(this: WebSocket) {
    const connection = open.get(this)
    if (connection) connection.unanswered = 0
  }
  return {
    start(socket: WebSocket) {
      socket.on('pong', onPong)
      wheel.schedule(socket, Date.now() + intervalMs)
    },
    stop: (socket: WebSocket) => wheel.cancel(socket),
    dispose: () => wheel.stop(),
  }
}
