/**
 * Builds the gateway and the embedded server once per test run, for the tests that spawn them as processes: one
 * ESM bundle per entry point (dependencies included), and the test configurations as `.mjs` bundles. A spawned
 * gateway then starts in under a second of CPU instead of the ~4.5 s `tsx` spends loading src/ and its
 * dependencies module by module; the e2e tier spawns dozens. The tests that are about the newcomer's `npm start`
 * and the `.ts` configuration path still run the sources through `tsx` (`spawnGateway(..., { from: 'source' })`).
 */
import { rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'
import type { TestProject } from 'vitest/node'

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

/** Optional drivers of `mongodb` and native helpers of `ws` and `pino`: loaded at run time when present, never bundled. */
const EXTERNAL = [
  'kerberos',
  '@mongodb-js/zstd',
  '@aws-sdk/credential-providers',
  'gcp-metadata',
  'snappy',
  'socks',
  'aws4',
  'mongodb-client-encryption',
  'bufferutil',
  'utf-8-validate',
  'pino',
  'pino-pretty',
]

let built: Promise<TestBuild> | undefined

/** Every project that spawns processes names this setup; the bundles are built once per run all the same. */
export default async function setup(project: TestProject) {
  project.provide('testBuild', await (built ??= buildAll()))
  // Runs once the whole run is over.
  return () => rmSync(OUT, { recursive: true, force: true })
}

async function buildAll(): Promise<TestBuild> {
  rmSync(OUT, { recursive: true, force: true })
  const common = {
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
    // Bundled CommonJS dependencies call `require`; an ES module has none of its own.
    banner: { js: "import { createRequire as __changegateRequire } from 'node:module'; const require = __changegateRequire(import.meta.url);" },
  } as const
  await build({
    ...common,
    entryPoints: { main: join(ROOT, 'src/main.ts'), embedded: join(ROOT, 'src/embedded/cli.ts') },
    outdir: OUT,
    splitting: true,
    external: EXTERNAL,
  })
  const configs: Record<string, string> = {}
  await Promise.all(
    CONFIGS.map(async (file, n) => {
      const outfile = join(OUT, 'configs', `config-${n}.mjs`)
      await build({ ...common, entryPoints: [join(ROOT, file)], outfile, external: EXTERNAL })
      configs[join(ROOT, file)] = outfile
    }),
  )
  return { gateway: join(OUT, 'main.js'), embedded: join(OUT, 'embedded.js'), configs }
}
