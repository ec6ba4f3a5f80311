import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigFileError, loadModels } from '../../src/models/index.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A fresh directory holding `files` (name → content). */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'changegate-config-'))
  dirs.push(dir)
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
  return dir
}

const modelsOf = (collection: string) => ({
  models: { Ticket: { collection, tenantField: 'orgId', fields: { orgId: 'String!', title: 'String!' } } },
})
const json = (collection: string) => JSON.stringify(modelsOf(collection))

async function loadError(file: string | undefined, cwd: string): Promise<string> {
  try {
    await loadModels(file, cwd)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigFileError)
    const message = (error as Error).message
    expect(message.split('\n')).toHaveLength(1)
    return message
  }
  throw new Error('expected a ConfigFileError')
}

describe('loadModels', () => {
  it('reads a .json file named by CHANGEGATE_CONFIG, relative to the working directory', async () => {
    const dir = project({ 'models.json': json('from_json') })
    const loaded = await loadModels('models.json', dir)
    expect(loaded.source).toBe(join(dir, 'models.json'))
    expect(loaded.registry.byName('Ticket')?.collection).toBe('from_json')
  })

  it('imports a .mjs file exporting the configuration as default', async () => {
    const dir = project({ 'models.mjs': `export default ${json('from_mjs')}\n` })
    const loaded = await loadModels(join(dir, 'models.mjs'), '/')
    expect(loaded.registry.byName('Ticket')?.collection).toBe('from_mjs')
  })

  it('imports a .ts file with types', async () => {
    const dir = project({
      'models.ts': `const config: { models: Record<string, object> } = ${json('from_ts')}\nexport default config\n`,
    })
    const loaded = await loadModels('models.ts', dir)
    expect(loaded.registry.byName('Ticket')?.collection).toBe('from_ts')
  })

  it('imports a .ts file outside any package that imports `changegate` and a sibling .ts module', async () => {
    const dir = project({
      'collection.ts': "export const collection: string = 'from_sibling'\n",
      'models.ts': [
        "import { defineConfig } from 'changegate'",
        "import { collection } from './collection.ts'",
        `export default defineConfig({ models: { Ticket: { ...${JSON.stringify(modelsOf('x').models.Ticket)}, collection } } })`,
        '',
      ].join('\n'),
    })
    const loaded = await loadModels('models.ts', dir)
    expect(loaded.registry.byName('Ticket')?.collection).toBe('from_sibling')
  })

  it('finds changegate.config.ts before changegate.config.json in the working directory', async () => {
    const dir = project({
      'changegate.config.ts': `export default ${json('from_default_ts')}\n`,
      'changegate.config.json': json('from_default_json'),
    })
    const loaded = await loadModels(undefined, dir)
    expect(loaded.source).toBe(join(dir, 'changegate.config.ts'))
    expect(loaded.registry.byName('Ticket')?.collection).toBe('from_default_ts')
  })

  it('finds changegate.config.json when there is no .ts', async () => {
    const dir = project({ 'changegate.config.json': json('from_default_json') })
    const loaded = await loadModels(undefined, dir)
    expect(loaded.source).toBe(join(dir, 'changegate.config.json'))
    expect(loaded.registry.byName('Ticket')?.collection).toBe('from_default_json')
  })

  it('serves the built-in demo when there is no file', async () => {
    const loaded = await loadModels(undefined, project({}))
    expect(loaded.source).toBeUndefined()
    expect(loaded.registry.models.map((m) => m.names.type)).toEqual(['Order', 'User'])
  })

  it('rejects a missing file', async () => {
    const dir = project({})
    expect(await loadError('nope.json', dir)).toBe(`CHANGEGATE_CONFIG: no file at ${join(dir, 'nope.json')}`)
  })

  it('rejects invalid JSON', async () => {
    const dir = project({ 'models.json': '{ "models": {' })
    expect(await loadError('models.json', dir)).toMatch(new RegExp(`^${pattern(join(dir, 'models.json'))}: not valid JSON \\(.+\\)$`))
  })

  it('rejects a module without a default export', async () => {
    const dir = project({ 'models.mjs': `export const config = ${json('x')}\n` })
    expect(await loadError('models.mjs', dir)).toBe(
      `${join(dir, 'models.mjs')}: must export the configuration as default (export default defineConfig({...}))`,
    )
  })

  it('rejects a module that fails to load, in one line', async () => {
    const dir = project({ 'models.mjs': 'export default {\n' })
    expect(await loadError('models.mjs', dir)).toMatch(new RegExp(`^${pattern(join(dir, 'models.mjs'))}: could not be loaded \\(.+\\)$`))
  })

  it("rejects a .ts file that does not compile, in one line with the compiler's message and position", async () => {
    const dir = project({ 'models.ts': 'export default {\n  models: {\n' })
    expect(await loadError('models.ts', dir)).toMatch(new RegExp(`^${pattern(join(dir, 'models.ts'))}: could not be loaded \\(.*models\\.ts:\\d+:\\d+: ERROR: .+\\)$`))
  })

  it('rejects another extension', async () => {
    const dir = project({ 'models.yaml': 'models: {}\n' })
    expect(await loadError('models.yaml', dir)).toBe(`${join(dir, 'models.yaml')}: use a .ts, .mjs, .js or .json file`)
  })

  it('rejects an invalid configuration in a file with the validation message', async () => {
    const dir = project({ 'changegate.config.json': JSON.stringify({ models: { Ticket: { collection: 'tickets', fields: { title: 'String' } } } }) })
    expect(await loadError(undefined, dir)).toBe('model Ticket: `tenantField` is required: a dotted path, or null for a model every caller sees')
  })
})

const pattern = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
