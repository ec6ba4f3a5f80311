/** Every command the embedded server answers, by name. */
import type { HandlerTable } from './context.js'
import { cursorCommands } from './cursor-commands.js'
import { findCommands } from './find.js'
import { handshakeCommands } from './handshake.js'
import { writeCommands } from './write.js'

export const commandTable: HandlerTable = {
  ...handshakeCommands,
  ...cursorCommands,
  ...findCommands,
  ...writeCommands,
  configureFailPoint: (cmd, _req, server) => server.failpoints.configure(cmd),
}
