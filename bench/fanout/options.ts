/** Command line of `npm run bench:fanout`; the defaults are the benchmark's specified values. */

export const PARTS = ['s1', 's2', 'driver', 'bare'] as const
export type Part = (typeof PARTS)[number]

export interface Options {
  readonly connections: number
  readonly subscriptionsPerConnection: number
  readonly fanout: number
  /** S1 and the driver baseline: inserts per second and seconds. */
  readonly rate: number
  readonly seconds: number
  /** S2: inserts per second of each step, each held `stepSeconds`. */
  readonly steps: readonly number[]
  readonly stepSeconds: number
  /** S2 stops at the first step whose p99 exceeds this or that loses an event. */
  readonly maxP99Ms: number
  readonly baselineStreams: number
  /** Deliveries still missing this long after nothing arrived count as lost. */
  readonly idleMs: number
  readonly parts: ReadonlySet<Part>
  readonly quick: boolean
  /** Runs the gateway under `node --cpu-prof` and reports its hottest functions. */
  readonly profile: boolean
  /** Extra `node` flags for the gateway process (`--gateway-node-flags "--trace-gc-nvp"`). */
  readonly gatewayNodeFlags: readonly string[]
  /** File the gateway's stdout and stderr are appended to (what `--trace-gc` prints, for one). */
  readonly gatewayOutput: string | undefined
  /** CHANGEGATE_SUBSCRIPTION_BUFFER for the gateway; undefined = its default. */
  readonly subscriptionBuffer: number | undefined
  /** Loads stall-probe.ts into the gateway: what each long event-loop block was made of (stall-report.ts). */
  readonly stallProbe: boolean
  /** CPUs the gateway's main thread has to itself (taskset); every other thread of the benchmark runs on the others. */
  readonly gatewayCpus: readonly number[] | undefined
}

const DEFAULTS: Options = {
  connections: 2_000,
  subscriptionsPerConnection: 5,
  fanout: 10,
  rate: 1_000,
  seconds: 30,
  steps: [1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 6_000, 8_000, 10_000, 12_000, 14_000, 16_000],
  stepSeconds: 10,
  maxP99Ms: 1_000,
  baselineStreams: 1_000,
  idleMs: 5_000,
  parts: new Set(PARTS),
  quick: false,
  profile: false,
  gatewayNodeFlags: [],
  gatewayOutput: undefined,
  subscriptionBuffer: undefined,
  stallProbe: false,
  gatewayCpus: undefined,
}

const QUICK: Partial<Options> = { seconds: 5, steps: [1_000, 4_000], stepSeconds: 3, idleMs: 3_000 }

export const USAGE = `usage: npm run bench:fanout -- [--quick] [--profile] [--parts ${PARTS.join(',')}]
  [--connections N] [--subscriptions-per-connection N] [--fanout N] [--rate R] [--seconds S]
  [--steps R1,R2,...] [--step-seconds S] [--max-p99-ms MS] [--baseline-streams N] [--idle-ms MS]
  [--subscription-buffer N] [--gateway-node-flags "FLAGS"] [--gateway-output FILE]
  [--stall-probe] [--gateway-cpus C1,C2,...]`

function positiveInteger(flag: string, value: string | undefined): number {
  const n = Number(value)
  if (value === undefined || !/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new Error(`${flag} needs a positive integer, got ${value === undefined ? 'nothing' : `'${value}'`}\n${USAGE}`)
  }
  return n
}

function nonNegativeInteger(flag: string, value: string | undefined): number {
  return value === '0' ? 0 : positiveInteger(flag, value)
}

export function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes('--quick')
  const out: { -readonly [K in keyof Options]: Options[K] } = { ...DEFAULTS, ...(quick ? QUICK : {}), quick }
  for (let i = 0; i < argv.length; i++) {
    const eq = argv[i].indexOf('=')
    const flag = eq > 0 ? argv[i].slice(0, eq) : argv[i]
    const value = () => (eq > 0 ? argv[i].slice(eq + 1) : argv[++i])
    const int = () => positiveInteger(flag, value())
    switch (flag) {
      case '--quick':
        break
      case '--profile':
        out.profile = true
        break
      case '--connections':
        out.connections = int()
        break
      case '--subscriptions-per-connection':
        out.subscriptionsPerConnection = int()
        break
      case '--fanout':
        out.fanout = int()
        break
      case '--rate':
        out.rate = int()
        break
      case '--seconds':
        out.seconds = int()
        break
      case '--steps':
        out.steps = (value() ?? '').split(',').map((step) => positiveInteger(flag, step))
        break
      case '--step-seconds':
        out.stepSeconds = int()
        break
      case '--max-p99-ms':
        out.maxP99Ms = int()
        break
      case '--baseline-streams':
        out.baselineStreams = int()
        break
      case '--idle-ms':
        out.idleMs = int()
        break
      case '--subscription-buffer':
        out.subscriptionBuffer = int()
        break
      case '--gateway-node-flags':
        out.gatewayNodeFlags = (value() ?? '').split(' ').filter(Boolean)
        break
      case '--gateway-output':
        out.gatewayOutput = value()
        break
      case '--stall-probe':
        out.stallProbe = true
        break
      case '--gateway-cpus':
        out.gatewayCpus = (value() ?? '').split(',').map((cpu) => nonNegativeInteger(flag, cpu))
        break
      case '--parts': {
        const list = (value() ?? '').split(',').filter(Boolean)
        const unknown = list.filter((p) => !(PARTS as readonly string[]).includes(p))
        if (unknown.length || !list.length) throw new Error(`--parts takes a list of ${PARTS.join(', ')}\n${USAGE}`)
        out.parts = new Set(list as Part[])
        break
      }
      default:
        throw new Error(`unknown argument '${argv[i]}'\n${USAGE}`)
    }
  }
  return out
}

/** A run with the specified values and every part: the one whose report is kept in bench/results. */
export const isFullRun = (o: Options, argv: readonly string[]) => argv.length === 0 && !o.quick && !o.profile && o.parts.size === PARTS.length
