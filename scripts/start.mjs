// @ts-check
/**
 * `npm start`: compiles the gateway (src/main.ts) with esbuild, then runs it in this process. Compiling takes about a
 * quarter of a second, so there is no build step to remember and what runs is always the checkout's sources, compiled
 * as in production: no TypeScript loader stays in the process (`npm run dev` runs the sources through tsx instead).
 * The environment reaches the gateway untouched.
 */
import { rename } from 'node:fs/promises'
import { join } from 'node:path'
import process from 'node:process'
import { pathToFileURL } from 'node:url'
import { stop } from 'esbuild'
import { bundle } from './bundle.mjs'

const ROOT = join(import.meta.dirname, '..')
const OUT = join(ROOT, 'node_modules', '.cache', 'changegate', 'start')

/** Compiles into a file of this process's own, then puts it in place in one step: another `npm start` in this checkout may be importing it. */
async function compile() {
  const name = `main-${process.pid}`
  const built = await bundle({ entries: { [name]: join(ROOT, 'src', 'main.ts') }, outdir: OUT })
  const file = join(OUT, 'main.mjs')
  await rename(built[name], file)
  return file
}

let gateway
try {
  gateway = await compile()
} catch (error) {
  // A compile error has been printed by esbuild with its source line; anything else (an unwritable cache) has not.
  const reason = error instanceof Error && 'errors' in error ? 'see the errors above' : String(error)
  process.stderr.write(`changegate: could not compile src/main.ts: ${reason}\n`)
  process.exit(1)
} finally {
  // esbuild's compiler runs as a child process until stopped.
  await stop()
}
await import(pathToFileURL(gateway).href)
