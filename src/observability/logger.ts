import pino from 'pino'

export type Logger = pino.Logger

export interface LoggerOptions {
  /** pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. */
  level: string
  /** Stamped on every line as `nodeId`, so lines from several gateway nodes can be told apart. */
  nodeId: string
  /** Where JSON lines go. Default: stdout. */
  destination?: pino.DestinationStream
}

/** JSON lines (one object per line) with ISO timestamps, errors serialized under `err`. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level,
      base: { nodeId: opts.nodeId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    // synchronous stdout: lines written just before process.exit are not lost
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  )
}
