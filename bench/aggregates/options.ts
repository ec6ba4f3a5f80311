/** Command line of `npm run bench:aggregates`; the defaults are the benchmark's specified values. */

export const RUNS = ['aggregates', 'baseline', 'unthrottled'] as const
export type RunName = (typeof RUNS)[number]

export interface Options {
  /** Writes per second (inserts, updates and deletes over two tenants) and measured seconds per run. */
  readonly rate: number
  readonly seconds: number
  /** Writes at `rate` before each measured phase (after every subscription is live). */
  readonly warmUpSeconds: number
  /** Distinct (tenant, where, groupBy, window) combinations, and subscribers of each. */
  readonly combinations: number
  readonly subscribersPerCombination: number
  readonly subscriptionsPerConnection: number
  /** Regions per tenant: each combination's `where` names one, so a write concerns combinations / (2 × regions) of them. */
  readonly regions: number
  /** Orders in the collection before the first run. */
  readonly seedDocuments: number
  readonly runs: readonly RunName[]
  readonly quick: boolean
  /** Runs each gateway under `node --cpu-prof` and writes its hottest functions to .bench-out/. */
  readonly profile: boolean
}

const DEFAULTS: Options = {
  rate: 1_000,
  seconds: 30,
  warmUpSeconds: 5,
  combinations: 100,
  subscribersPerCombination: 10,
  subscriptionsPerConnection: 10,
  regions: 25,
  seedDocuments: 5_000,
  runs: RUNS,
  quick: false,
  profile: false,
}

const QUICK: Partial<Options> = { seconds: 8, warmUpSeconds: 2, seedDocuments: 1_000 }

export const USAGE = `usage: npm run bench:aggregates -- [--quick] [--profile] [--runs ${RUNS.join(',')}] [--rate R] [--seconds S]
  [--warm-up-seconds S] [--combinations N] [--subscribers-per-combination N] [--subscriptions-per-connection N]
  [--regions N] [--seed-documents N]`

function nonNegativeInteger(flag: string, value: string | undefined, min = 1): number {
  const n = Number(value)
  if (value === undefined || !/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new Error(`${flag} needs an integer ≥ ${min}, got ${value === undefined ? 'nothing' : `'${value}'`}\n${USAGE}`)
  }
  return n
}

export function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes('--quick')
  const out: { -readonly [K in keyof Options]: Options[K] } = { ...DEFAULTS, ...(quick ? QUICK : {}), quick }
  for (let i = 0; i < argv.length; i++) {
    const eq = argv[i].indexOf('=')
    const flag = eq > 0 ? argv[i].slice(0, eq) : argv[i]
    const value = () => (eq > 0 ? argv[i].slice(eq + 1) : argv[++i])
    const int = (min = 1) => nonNegativeInteger(flag, value(), min)
    switch (flag) {
      case '--quick':
        break
      case '--profile':
        out.profile = true
        break
      case '--rate':
        out.rate = int()
        break
      case '--seconds':
        out.seconds = int()
        break
      case '--warm-up-seconds':
        out.warmUpSeconds = int(0)
        break
      case '--combinations':
        out.combinations = int()
        break
      case '--subscribers-per-combination':
        out.subscribersPerCombination = int()
        break
      case '--subscriptions-per-connection':
        out.subscriptionsPerConnection = int()
        break
      case '--regions':
        out.regions = int()
        break
      case '--seed-documents':
        out.seedDocuments = int(0)
        break
      case '--runs': {
        const list = (value() ?? '').split(',').filter(Boolean)
        const unknown = list.filter((r) => !(RUNS as readonly string[]).includes(r))
        if (unknown.length || !list.length) throw new Error(`--runs takes a list of ${RUNS.join(', ')}\n${USAGE}`)
        out.runs = RUNS.filter((r) => list.includes(r))
        break
      }
      default:
        throw new Error(`unknown argument '${argv[i]}'\n${USAGE}`)
    }
  }
  return out
}

/** A run with the specified values and every run: the one whose report is kept in bench/results. */
export const isFullRun = (o: Options, argv: readonly string[]) => argv.length === 0 && !o.quick && !o.profile
