/** The embedded MongoDB-compatible server: public API. */
export { startEmbeddedMongo, type EmbeddedMongo, type EmbeddedMongoOptions } from './server.js'
