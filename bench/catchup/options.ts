/** Command line of `npm run bench:catchup`; the defaults are the aim's values (issue 11, aim 6). */

export interface Options {
  /** Live subscriptions, measured commit-to-client throughout: `liveConnections` × `perConnection`. */
  readonly liveConnections: number
  /** Subscribers that leave with their last cursor and all resume at once `age` seconds later. */
  readonly resumers: number
  readonly perConnection: number
  /** Live subscriptions each write matches (it also matches one resumer when resumers = customers). */
  readonly fanout: number
  /** Inserts per second, throughout. */
  readonly rate: number
  /** Seconds between the resumers' last event and their resubscribing. */
  readonly age: number
  /** Seconds the writes go on after the resume. */
  readonly tail: number
  /** A resumer not live this long after resubscribing counts as late (the aim: 10 s). */
  readonly liveWithinMs: number
  /** The live subscribers' p99 aim during the catch-up (ms). */
  readonly liveP99Ms: number
  /** Deliveries still missing this long after nothing arrived count as lost. */
  readonly idleMs: number
  /** Runs the gateway under `node --cpu-prof` and reports its hottest functions. */
  readonly profile: boolean
  /** CHANGEGATE_SUBSCRIPTION_BUFFER for the gateway; undefined = its default. */
  readonly subscriptionBuffer: number | undefined
}

export const DEFAULTS: Options = {
  liveConnections: 200,
  resumers: 1_000,
  perConnection: 5,
  fanout: 1,
  rate: 1_000,
  age: 60,
  tail: 30,
  liveWithinMs: 10_000,
  liveP99Ms: 150,
  idleMs: 5_000,
  profile: false,
  subscriptionBuffer: undefined,
}

export const USAGE = `usage: npm run bench:catchup -- [--resumers N] [--rate R] [--age S] [--tail S] [--live-connections N]
  [--per-connection N] [--fanout N] [--live-within-ms MS] [--live-p99-ms MS] [--idle-ms MS] [--subscription-buffer N]
  [--profile]`

function positiveInteger(flag: string, value: string | undefined): number {
  const n = Number(value)
  if (value === undefined || !/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new Error(`${flag} needs a positive integer, got ${value === undefined ? 'nothing' : `'${value}'`}\n${USAGE}`)
  }
  return n
}

const FLAGS: Record<string, keyof Options> = {
  '--live-connections': 'liveConnections',
  '--resumers': 'resumers',
  '--per-connection': 'perConnection',
  '--fanout': 'fanout',
  '--rate': 'rate',
  '--age': 'age',
  '--tail': 'tail',
  '--live-within-ms': 'liveWithinMs',
  '--live-p99-ms': 'liveP99Ms',
  '--idle-ms': 'idleMs',
  '--subscription-buffer': 'subscriptionBuffer',
}

export function parseOptions(argv: readonly string[]): Options {
  const out: Record<string, unknown> = { ...DEFAULTS }
  for (let i = 0; i < argv.length; i++) {
    const eq = argv[i].indexOf('=')
    const flag = eq > 0 ? argv[i].slice(0, eq) : argv[i]
    if (flag === '--profile') {
      out.profile = true
      continue
    }
    const key = FLAGS[flag]
    if (!key) throw new Error(`unknown argument '${argv[i]}'\n${USAGE}`)
    out[key] = positiveInteger(flag, eq > 0 ? argv[i].slice(eq + 1) : argv[++i])
  }
  return out as unknown as Options
}

/** A run with the specified values: the one whose report is kept in bench/results. */
export const isFullRun = (argv: readonly string[]) => argv.length === 0
