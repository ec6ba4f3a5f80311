// @ts-check
/**
 * Compiles TypeScript entry points into ES module bundles with esbuild: what `npm start` runs (scripts/start.mjs), what
 * the benchmarks run (bench/lib/compiled.ts) and what the end-to-end tests spawn (test/setup/build.ts). Compiled code
 * carries none of the per-function `name` properties tsx's transform adds (esbuild's `keepNames`: about 5 KB of heap
 * per subscription). Plain JavaScript, so that `npm start` needs no TypeScript loader to compile.
 */
import { join } from 'node:path'
import { build } from 'esbuild'

/**
 * Never bundled: the optional drivers of `mongodb` and native helpers of `ws` and `pino`, loaded at run time when
 * present; and tsx, which loads `.ts` configuration files through its own files.
 */
const RUNTIME_EXTERNAL = [
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
  'tsx',
]

/** Bundled CommonJS dependencies call `require`; an ES module has none of its own. */
const REQUIRE_SHIM = "import { createRequire as __changegateRequire } from 'node:module'; const require = __changegateRequire(import.meta.url);"

/**
 * @typedef {object} BundleOptions
 * @property {Readonly<Record<string, string>>} entries Output name (a path without extension, relative to `outdir`) →
 *   source file.
 * @property {string} outdir Where the bundles go, as `<name>.mjs`; code shared by several entries goes into chunks
 *   beside them.
 * @property {'external' | 'bundled'} [dependencies] `external` (default): packages are imported from node_modules at
 *   run time, so `outdir` must be where the project's node_modules resolve; `bundled`: packages are compiled in, but
 *   for the optional ones and tsx (a start in under a second of CPU instead of loading node_modules module by module).
 */

/**
 * Builds every entry in one esbuild run. Resolves to output name → absolute path of its `.mjs` file; rejects when a
 * source does not compile (esbuild has printed the errors on stderr).
 * @param {BundleOptions} options
 * @returns {Promise<Record<string, string>>}
 */
export async function bundle({ entries, outdir, dependencies = 'external' }) {
  await build({
    entryPoints: { ...entries },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: Object.keys(entries).length > 1,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
    ...(dependencies === 'external' ? { packages: 'external' } : { external: RUNTIME_EXTERNAL, banner: { js: REQUIRE_SHIM } }),
  })
  return Object.fromEntries(Object.keys(entries).map((name) => [name, join(outdir, `${name}.mjs`)]))
}
