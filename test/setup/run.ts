/**
 * `npm test`'s test run: two `vitest run`s side by side, each line of their output prefixed with its name.
 *
 * - `sequential`: the tests that need the gateway to keep up while gateways, Redis and MongoDB load the machine
 *   (vitest.config.ts, ALONE), then the browser tests, one file at a time;
 * - `parallel`: unit, integration and the other end-to-end tests, two files at a time.
 *
 * Most test files wait on sockets, timers and other processes far more than they compute (the whole suite used
 * 44 % of two cores run as one `vitest run`), so the two halves overlap instead of queueing. Arguments (a file, a
 * `--project`) run one plain `vitest run` with them instead. Exits non-zero when either run fails.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

const VITEST = ['node_modules/vitest/vitest.mjs', 'run']
const RUNS: Record<string, string[]> = {
  sequential: ['--project', 'alone', '--project', 'browser'],
  parallel: ['--project', 'unit', '--project', 'integration', '--project', 'e2e'],
}

function run(name: string | undefined, args: string[]): Promise<number> {
  const child = spawn(process.execPath, [...VITEST, ...args], { stdio: name === undefined ? 'inherit' : ['ignore', 'pipe', 'pipe'] })
  if (name !== undefined) {
    for (const [stream, out] of [
      [child.stdout!, process.stdout],
      [child.stderr!, process.stderr],
    ] as const) {
      createInterface({ input: stream }).on('line', (line) => out.write(`[${name}] ${line}\n`))
    }
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal))
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))))
}

const args = process.argv.slice(2)
const codes = args.length > 0 ? [await run(undefined, args)] : await Promise.all(Object.entries(RUNS).map(([name, a]) => run(name, a)))
const failed = Object.keys(RUNS).filter((_, n) => args.length === 0 && codes[n] !== 0)
if (failed.length > 0) process.stderr.write(`failed: ${failed.join(', ')}\n`)
process.exit(codes.some((code) => code !== 0) ? 1 : 0)
