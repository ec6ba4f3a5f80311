/**
 * Loaded into the embedded server's process for the benchmark (`node --import`): on SIGUSR2 it prints the event-loop
 * delay since the previous SIGUSR2 as one `loop-delay N {json}` line on stderr (N counts the signals from 1) and
 * starts over. It adds a 1 ms timer and nothing else to the server.
 */
import { createLoopDelayMonitor } from '../lib/loop-delay.js'

const monitor = createLoopDelayMonitor()
let signals = 0
process.on('SIGUSR2', () => {
  process.stderr.write(`loop-delay ${++signals} ${JSON.stringify(monitor.read())}\n`)
  monitor.reset()
})
