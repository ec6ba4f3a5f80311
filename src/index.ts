/** The package's public entry: configuration helpers for `changegate.config.ts`. */
export { defineConfig } from './models/types.js'
export type * from './models/types.js'
