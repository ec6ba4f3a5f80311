/**
 * What a getMore reply carrying change events costs to encode: `serializeReply` (the events' shared bytes copied in)
 * against `BSON.serialize` of the same reply (every event serialized again, as without sharing), in one process.
 *
 *   npx tsx bench/embedded/reply-encoding.ts [--events 1,10] [--replies 200000] [--against PATH]
 *
 * `--against` also times the `serializeReply` of another copy of src/embedded/wire/shared-bson.ts, alternately with
 * this one: e.g. `git show REV:src/embedded/wire/shared-bson.ts > .bench-out/shared-bson-REV.ts` (inside the
 * repository, so that its `bson` import resolves).
 */
import { relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BSON, Binary, Long, ObjectId, Timestamp, type Document } from 'bson'
import * as current from '../../src/embedded/wire/shared-bson.js'
import { formatNumber as n } from '../lib/stats.js'

type Encoder = Pick<typeof current, 'serializeReply' | 'shareEncoding'>

function parseArgs(argv: readonly string[]): { events: number[]; replies: number; against?: string } {
  let events = [1, 10]
  let replies = 200_000
  let against: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1]
    if (argv[i] === '--events' && value) events = value.split(',').map(Number)
    else if (argv[i] === '--replies' && value) replies = Number(value)
    else if (argv[i] === '--against' && value) against = resolve(value)
    else throw new Error(`unknown argument '${argv[i]}' (usage: reply-encoding.ts [--events LIST] [--replies N] [--against PATH])`)
    i++
  }
  if (!events.every((e) => Number.isInteger(e) && e > 0) || !(replies > 0)) throw new Error('--events and --replies take positive integers')
  return { events, replies, against }
}

/** A change event as the embedded server builds it for the fan-out benchmark's order inserts. */
const changeEvent = (i: number): Document => ({
  _id: { _data: `8263${i.toString(16).padStart(8, '0')}0000000a2b022c0100296e5a1004` },
  operationType: 'insert',
  clusterTime: new Timestamp({ t: 1_700_000_000 + i, i: 1 }),
  wallTime: new Date(1_700_000_000_000 + i),
  fullDocument: { _id: new ObjectId(), orderId: i, tenantId: 'acme', customerId: 'c-17', status: 'NEW', total: 12.5, createdAt: new Date() },
  ns: { db: 'bench', coll: 'orders' },
  documentKey: { _id: new ObjectId() },
})

const getMoreReply = (events: Document[]): Document => ({
  cursor: { nextBatch: events, id: Long.fromNumber(42), ns: 'bench.orders', postBatchResumeToken: { _data: 'ff00' } },
  ok: 1,
  $clusterTime: { clusterTime: new Timestamp({ t: 1, i: 2 }), signature: { hash: new Binary(Buffer.alloc(20)), keyId: Long.fromInt(0) } },
  operationTime: new Timestamp({ t: 1, i: 2 }),
})

/** Microseconds per call of `encode(reply)`, after a tenth as many untimed calls. */
function time(encode: (reply: Document) => Uint8Array, reply: Document, replies: number): number {
  for (let i = 0; i < replies / 10; i++) encode(reply)
  const started = performance.now()
  for (let i = 0; i < replies; i++) encode(reply)
  return ((performance.now() - started) * 1000) / replies
}

async function main(): Promise<void> {
  const { events, replies, against } = parseArgs(process.argv.slice(2))
  const encoders: Array<[string, Encoder]> = [['serializeReply', current]]
  if (against) encoders.push([`serializeReply of ${relative(process.cwd(), against)}`, (await import(pathToFileURL(against).href)) as Encoder])
  process.stdout.write(`| events per reply | encoder | µs per reply, round 1 | round 2 | BSON.serialize of the whole reply (µs) |\n|---|---|---|---|---|\n`)
  for (const count of events) {
    const rows = new Map<string, number[]>()
    let whole = 0
    for (let round = 0; round < 2; round++) {
      for (const [label, encoder] of encoders) {
        const reply = getMoreReply(Array.from({ length: count }, (_, i) => changeEvent(i)))
        for (const event of reply.cursor.nextBatch as Document[]) encoder.shareEncoding(event)
        const bytes = Buffer.from(encoder.serializeReply(reply))
        if (!bytes.equals(Buffer.from(BSON.serialize(reply, current.REPLY_SERIALIZE)))) throw new Error(`${label}: bytes differ from BSON.serialize`)
        rows.set(label, [...(rows.get(label) ?? []), time(encoder.serializeReply, reply, replies)])
        whole = time((r) => BSON.serialize(r, current.REPLY_SERIALIZE), reply, replies)
      }
    }
    for (const [label, [a, b]] of rows) process.stdout.write(`| ${count} | ${label} | ${n(a)} | ${n(b)} | ${n(whole)} |\n`)
  }
}

await main()
