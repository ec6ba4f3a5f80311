/** Every command the embedded server answers, by name. */
import { aggregateCommands } from './aggregate.js'
import { collectionCommands } from './collections.js'
import type { HandlerTable } from './context.js'
import { cursorCommands } from './cursor-commands.js'
import { findAndModifyCommands } from './find-and-modify.js'
import { findCommands } from './find.js'
import { handshakeCommands } from './handshake.js'
import { indexCommands } from './indexes.js'
import { writeCommands } from './write.js'

export const commandTable: HandlerTable = {
  ...handshakeCommands,
  ...cursorCommands,
  ...findCommands,
  ...writeCommands,
  ...findAndModifyCommands,
  ...aggregateCommands,
  ...collectionCommands,
  ...indexCommands,
  configureFailPoint: (cmd, _req, server) => server.failpoints.configure(cmd),
  commitTransaction: (cmd, _req, server) => server.transactions.commit(cmd),
  abortTransaction: (cmd, _req, server) => server.transactions.abort(cmd),
  endSessions: (cmd, _req, server) => {
    server.transactions.endSessions(cmd.endSessions)
    return {}
  },
}
