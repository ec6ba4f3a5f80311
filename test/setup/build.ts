/**
 * Builds the gateway and the embedded server once per test run, for the tests that spawn them as processes: one
 * ESM bundle per entry point (dependencies included), and the test configurations as `.mjs` bundles. A spawned
 * gateway then starts in under a second of CPU instead of the ~4.5 s `tsx` spends loading src/ and its
 * dependencies module by module; the e2e tier spawns dozens, and a bundled configuration spares each of them
 * loading tsx to compile one. The tests that are about the newcomer's `npm start` and about `.ts` configuration files
 * start the way users do (`spawnGateway(..., { from: 'start' })`, or a `.ts` file the gateway compiles itself).
 */
import { rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { TestProject } from 'vitest/node'
import { bundle } from '../../scripts/bundle.mjs'

export interface TestBuild {
  /** The bundled `src/main.ts`. */
  readonly gateway: string
  /** The bundled `src/embedded/cli.ts`. */
  readonly embedded: string
  /** Absolute path of a test configuration (`.ts`) → its `.mjs` bundle. */
  readonly configs: Readonly<Record<string, string>>
}

declare module 'vitest' {
  export interface ProvidedContext {
    testBuild: TestBuild
  }
}

const ROOT = resolve(import.meta.dirname, '../..')
/** Per vitest process: two may run side by side (test/setup/run.ts). */
const OUT = join(ROOT, 'node_modules', '.cache', `changegate-test-build-${process.pid}`)
const CONFIGS = ['test/fixtures/configs/support-desk.config.ts']

let built: Promise<TestBuild> | undefined

/** Every project that spawns processes names this setup; the bundles are built once per run all the same. */
export default async function setup(project: TestProject) {
  project.provide('testBuild', await (built ??= buildAll()))
  // Runs once the whole run is over.
  return () => rmSync(OUT, { recursive: true, force: true })
}

async function buildAll(): Promise<TestBuild> {
  rmSync(OUT, { recursive: true, force: true })
  const configEntries = Object.fromEntries(CONFIGS.map((file, n) => [`configs/config-${n}`, join(ROOT, file)]))
  const [processes, configs] = await Promise.all([
    bundle({ entries: { main: join(ROOT, 'src/main.ts'), embedded: join(ROOT, 'src/embedded/cli.ts') }, outdir: OUT, dependencies: 'bundled' }),
    bundle({ entries: configEntries, outdir: OUT, dependencies: 'bundled' }),
  ])
  return {
    gateway: processes.main,
    embedded: processes.embedded,
    configs: Object.fromEntries(Object.entries(configEntries).map(([name, source]) => [source, configs[name]])),
  }
}
