/**
 * The stages a client puts after `$changeStream`: checked as MongoDB 7.0 checks them when the stream opens,
 * then run on each event with mingo (with MongoDB's BSON comparisons, see bson-mingo.ts).
 */
import type { Document, Double, Int32, Long } from 'bson'
import { deepCopy, isPlainObject } from '../bson-values.js'
import { MongoCommandError } from '../types.js'
import { createBsonAggregator, createBsonQuery } from './bson-mingo.js'
import { badValue, illegalOperation, locationError } from './errors.js'

/** Turns an event into what the client receives, or undefined when a stage filtered it out. */
export type EventTransform = (event: Document) => Document | undefined

/** Stages MongoDB allows after `$changeStream`. */
const ALLOWED = new Set([
  '$match',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
  '$redact',
  '$changeStreamSplitLargeEvent',
])

/** Every other stage name MongoDB 7.0 knows, so those are refused as "not permitted" rather than unknown. */
const KNOWN = new Set([
  '$bucket',
  '$bucketAuto',
  '$collStats',
  '$count',
  '$currentOp',
  '$densify',
  '$documents',
  '$facet',
  '$fill',
  '$geoNear',
  '$graphLookup',
  '$group',
  '$indexStats',
  '$limit',
  '$listLocalSessions',
  '$listSampledQueries',
  '$listSearchIndexes',
  '$listSessions',
  '$lookup',
  '$merge',
  '$out',
  '$planCacheStats',
  '$sample',
  '$search',
  '$searchMeta',
  '$setWindowFields',
  '$shardedDataDistribution',
  '$skip',
  '$sort',
  '$sortByCount',
  '$unionWith',
  '$unwind',
  '$vectorSearch',
])

/** Stages the server expands into others; the refusal names the first stage of the expansion. */
const EXPANDS_TO: Record<string, string> = { $count: '$group', $sortByCount: '$group', $bucket: '$group' }

type Step =
  | { readonly kind: 'match'; test(doc: Document): boolean }
  | { readonly kind: 'transform'; run: EventTransform }

function asCommandError(error: unknown): Error {
  if (error instanceof MongoCommandError) return error
  const message = error instanceof Error ? error.message : String(error)
  return badValue(message.replace(/^mingo:\s*/, ''))
}

/** Validates the stages after `$changeStream` (`stages` excludes it) and compiles them. */
export function compileUserStages(stages: readonly unknown[]): EventTransform {
  // Like the server: every stage is parsed before any is checked against what a change stream allows.
  const named = stages.map((stage) => {
    if (!isPlainObject(stage) || Object.keys(stage).length !== 1) {
      throw locationError(40323, 'A pipeline stage specification object must contain exactly one field.')
    }
    const name = Object.keys(stage)[0]
    if (!ALLOWED.has(name) && !KNOWN.has(name) && name !== '$changeStream') {
      throw locationError(40324, `Unrecognized pipeline stage name: '${name}'`)
    }
    return { name, spec: stage[name] as unknown }
  })
  const steps: Step[] = []
  named.forEach(({ name, spec }, index) => {
    if (name === '$changeStream') {
      throw locationError(40602, '$changeStream is only valid as the first stage in a pipeline.')
    }
    if (!ALLOWED.has(name)) {
      throw illegalOperation(`${EXPANDS_TO[name] ?? name} is not permitted in a $changeStream pipeline`)
    }
    if (name === '$changeStreamSplitLargeEvent') {
      if (index !== named.length - 1) {
        throw locationError(7182802, '$changeStreamSplitLargeEvent must be the last stage in the pipeline')
      }
      return // events here never reach 16MB, so there is nothing to split
    }
    steps.push(compileStage(name, plainNumbers(spec)))
  })
  return runSteps(steps)
}

/**
 * Stage specifications arrive with numbers wrapped (Int32, Double, Long): mingo reads those as documents.
 * Comparisons do not need this (bson-mingo compares wrapped numbers), projections and expressions do.
 */
function plainNumbers(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v
  if (Array.isArray(v)) return v.map(plainNumbers)
  if (isPlainObject(v)) {
    const out: Document = {}
    for (const key of Object.keys(v)) out[key] = plainNumbers(v[key])
    return out
  }
  switch ((v as { _bsontype?: string })._bsontype) {
    case 'Int32':
    case 'Double':
      return (v as Int32 | Double).value
    case 'Long': {
      const n = (v as Long).toNumber()
      return Number.isSafeInteger(n) ? n : v
    }
  }
  return v
}

function compileStage(name: string, spec: unknown): Step {
  try {
    if (name === '$match') {
      if (!isPlainObject(spec)) throw locationError(15959, 'the match filter must be an expression in an object')
      const query = createBsonQuery(spec)
      return { kind: 'match', test: (doc) => query.test(doc) }
    }
    const aggregator = createBsonAggregator([{ [name]: spec }])
    const reorder = name === '$project' || name === '$unset'
    return {
      kind: 'transform',
      run: (doc) => {
        const out = aggregator.run([doc])[0] as Document | undefined
        return out && reorder ? inDocumentOrder(doc, out) : out
      },
    }
  } catch (error) {
    throw asCommandError(error)
  }
}

/** MongoDB's projections keep the input's field order and put computed fields after it; mingo does not. */
function inDocumentOrder(input: Document, output: Document): Document {
  const ordered: Document = {}
  for (const key of Object.keys(input)) if (key in output) ordered[key] = output[key]
  for (const key of Object.keys(output)) if (!(key in ordered)) ordered[key] = output[key]
  return ordered
}

function runSteps(steps: readonly Step[]): EventTransform {
  if (steps.length === 0) return (event) => event
  return (event) => {
    let doc: Document | undefined = event
    let copied = false
    try {
      for (const step of steps) {
        if (step.kind === 'match') {
          if (!step.test(doc)) return undefined
          continue
        }
        // Events share their documents with the oplog: copy once before anything may write into them.
        if (!copied) {
          doc = deepCopy(doc)
          copied = true
        }
        doc = step.run(doc)
        if (!doc) return undefined
      }
    } catch (error) {
      throw asCommandError(error)
    }
    return doc
  }
}
