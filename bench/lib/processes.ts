/**
 * Child processes for benchmarks: servers started from a command line (ready once a line of their output
 * matches), and load-generator workers spoken to over IPC. Every child started here is tracked and killed when
 * the benchmark exits (normally, on an uncaught error, or on SIGINT/SIGTERM).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync } from 'node:fs'

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

const live = new Set<ChildProcess>()
let hooked = false

function track(child: ChildProcess): Promise<Exit> {
  live.add(child)
  if (!hooked) {
    hooked = true
    // A synchronous last resort: whatever is still running when this process exits is killed.
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL')
    })
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      process.once(signal, () => {
        for (const c of live) c.kill('SIGKILL')
        process.exit(code)
      })
    }
  }
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child)
      resolve({ code, signal })
    })
  })
}

/**
 * Ends a child: `ask` asks it to exit (a signal, or closing its IPC channel), then SIGKILL if it is still running
 * after `graceMs`.
 */
async function terminate(child: ChildProcess, exited: Promise<Exit>, graceMs: number, ask: () => void): Promise<Exit> {
  // A child that never started (a spawn error) emits no 'exit': there is nothing to wait for.
  if (child.pid === undefined) {
    live.delete(child)
    return { code: null, signal: null }
  }
  if (child.exitCode !== null || child.signalCode !== null) return exited
  ask()
  let timer: NodeJS.Timeout | undefined
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL')
      resolve()
    }, graceMs)
  })
  await Promise.race([exited, killed])
  clearTimeout(timer)
  return exited
}

export interface ServerProcess {
  readonly pid: number
  /** The match of `readyPattern` against the output line that announced readiness. */
  readonly ready: RegExpMatchArray
  readonly exited: Promise<Exit>
  /** The last few KB of output, for error messages. */
  output(): string
  /** SIGTERM, then SIGKILL after `graceMs` (default 5 s). */
  stop(graceMs?: number): Promise<Exit>
}

export interface ServerProcessOptions {
  readonly command: string
  readonly args: readonly string[]
  readonly readyPattern: RegExp
  readonly readyTimeoutMs?: number
  readonly cwd?: string
  /** Appends everything the process prints here, too. */
  readonly outputFile?: string
}

/** Starts a command and resolves once a line of its stdout or stderr matches `readyPattern`. */
export function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const child = spawn(options.command, options.args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = track(child)
  let tail = ''
  let pending = ''
  return new Promise((resolve, reject) => {
    let settled = false
    // The child has exited before the caller hears of the failure: nothing outlives a start that failed.
    const fail = (message: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      void terminate(child, exited, 1000, () => child.kill('SIGTERM')).then(() =>
        reject(new Error(`${message}\n--- output of ${options.command} ${options.args.join(' ')} ---\n${tail}`)),
      )
    }
    const timer = setTimeout(() => fail('not ready in time'), options.readyTimeoutMs ?? 30_000)
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8')
      tail = (tail + text).slice(-8192)
      if (settled) return
      pending += text
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        const ready = line.match(options.readyPattern)
        if (!ready) continue
        settled = true
        clearTimeout(timer)
        pending = ''
        resolve({
          pid: child.pid!,
          ready,
          exited,
          output: () => tail,
          stop: (graceMs = 5000) => terminate(child, exited, graceMs, () => child.kill('SIGTERM')),
        })
        return
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    const { outputFile } = options
    if (outputFile) {
      const append = (data: Buffer) => appendFileSync(outputFile, data)
      child.stdout!.on('data', append)
      child.stderr!.on('data', append)
    }
    child.once('error', (error) => fail(`cannot start: ${error.message}`))
    void exited.then((exit) => fail(`exited before it was ready (code ${exit.code}, signal ${exit.signal})`))
  })
}

export interface Worker {
  readonly pid: number
  readonly exited: Promise<Exit>
  /** Runs handler `type` in the worker with `payload`; rejects with the worker's error or after `timeoutMs`. */
  request<T>(type: string, payload?: unknown, timeoutMs?: number): Promise<T>
  /** Closes the IPC channel (the worker exits), then SIGKILL after `graceMs` (default 5 s). */
  stop(graceMs?: number): Promise<Exit>
}

export interface WorkerOptions {
  /** The worker's entry file; it calls `serveWorker` (see worker.ts). */
  readonly file: string
  readonly args?: readonly string[]
  /** Node options, e.g. ['--import', 'tsx'] to run TypeScript. */
  readonly execArgv?: readonly string[]
}

interface Reply {
  readonly id: number
  readonly ok: boolean
  readonly value?: unknown
  readonly error?: string
}

/** Forks a worker process and waits until it reports that it is ready for requests. */
export function startWorker(options: WorkerOptions): Promise<Worker> {
  const child = fork(options.file, [...(options.args ?? [])], {
    execArgv: [...(options.execArgv ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  })
  const exited = track(child)
  const waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  let nextId = 1
  let gone: Error | undefined

  child.on('message', (message: Reply) => {
    const entry = waiting.get(message.id)
    if (!entry) return
    waiting.delete(message.id)
    if (message.ok) entry.resolve(message.value)
    else entry.reject(new Error(message.error))
  })
  void exited.then((exit) => {
    gone = new Error(`worker ${options.file} exited (code ${exit.code}, signal ${exit.signal})`)
    for (const entry of waiting.values()) entry.reject(gone)
    waiting.clear()
  })

  const worker: Worker = {
    pid: child.pid!,
    exited,
    request<T>(type: string, payload?: unknown, timeoutMs = 120_000): Promise<T> {
      if (gone) return Promise.reject(gone)
      const id = nextId++
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id)
          reject(new Error(`worker ${options.file}: '${type}' took longer than ${timeoutMs} ms`))
        }, timeoutMs)
        waiting.set(id, {
          resolve: (value) => {
            clearTimeout(timer)
            resolve(value as T)
          },
          reject: (error) => {
            clearTimeout(timer)
            reject(error)
          },
        })
        child.send({ id, type, payload })
      })
    },
    // Closing the channel lets the worker exit by itself (so exit hooks such as --cpu-prof's run).
    stop: (graceMs = 5000) => terminate(child, exited, graceMs, () => child.connected && child.disconnect()),
  }
  // A worker that never reports ready is stopped (and has exited) before the caller hears of it.
  return worker.request<void>('ready', undefined, 30_000).then(
    () => worker,
    async (error: unknown) => {
      await worker.stop(1000)
      throw error
    },
  )
}
