/**
 * Benchmarked processes run compiled JavaScript, as production does (`npm start` and the Docker image), not through
 * `tsx`: tsx transforms with esbuild's `keepNames`, which gives every function object a `name` property of its own
 * at creation (a 256-byte property store each: ~4 KB per subscription, 1 KB per connection, measured with
 * `heap-diff.ts`). Each entry is bundled once per process (scripts/bundle.mjs; dependencies stay in node_modules)
 * into `<root>/.bench-out/compiled/`.
 */
import { join, relative } from 'node:path'
import { bundle } from '../../scripts/bundle.mjs'

const built = new Map<string, Promise<string>>()

/** The compiled file for `<root>/<entry>` (a `.ts` path relative to `root`). */
export function compiled(root: string, entry: string): Promise<string> {
  const source = join(root, entry)
  let file = built.get(source)
  if (!file) {
    const name = relative(root, source).replace(/\.ts$/, '')
    file = bundle({ entries: { [name]: source }, outdir: join(root, '.bench-out', 'compiled') }).then((files) => files[name])
    built.set(source, file)
  }
  return file
}
