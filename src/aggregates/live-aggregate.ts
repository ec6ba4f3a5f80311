import type { Document } from 'mongodb'
import type { GatewayError } from '../errors.js'
import type { Position } from '../mongo/position.js'
import { contributionOf, type ContributionSpec } from './contributions.js'
import { AggregateState, type Contribution, type GroupValue } from './state.js'
import { windowAt } from './window.js'

/** Wall-clock time and timers; tests pass a controllable one. */
export interface Clock {
  now(): number
  schedule(ms: number, run: () => void): () => void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(ms, run) {
    const timer = setTimeout(run, ms)
    timer.unref()
    return () => clearTimeout(timer)
  },
}

/** One change as an aggregate sees it: the document's images inside the aggregate (null: not in it on that side). */
export interface AggregateChange {
  readonly position: Position
  /** Commit time, epoch seconds. */
  readonly seconds: number
  readonly id: string
  readonly before: Document | null
  readonly after: Document | null
}

export interface AggregateSnapshot {
  /** Every change up to and including this position is reflected, none after it. */
  readonly position: Position
  /** Shared by every subscriber that receives this snapshot: what they would otherwise each compute (executions). */
  readonly memo: Map<string, unknown>
  /** The instant the window is evaluated at (for a windowed aggregate). */
  readonly asOf: Date
  readonly groups: readonly GroupValue[]
}

/**
 * One aggregate's live value: totals kept per bucket and group, moved by each change's pre- and post-image, with
 * window buckets dropping out on the clock, even when no write comes.
 *
 * A document's bucket, for a window on commit time, is the time of its last change: that is not in its pre-image,
 * so such an aggregate remembers each counted document's contribution (documents changed within the window only).
 * Every other aggregate keeps totals only.
 */
export class LiveAggregate {
  private state: AggregateState
  private readonly byDocument: Map<string, Contribution> | null
  private readonly listeners = new Set<() => void>()
  private cancelTick: (() => void) | undefined
  private position: Position | undefined
  private failure: GatewayError | undefined
  private cached: { readonly version: number; readonly second: number; readonly snapshot: AggregateSnapshot } | undefined
  /** Bumped on every change of value (a change applied, a bucket leaving or entering the window). */
  version = 0

  constructor(
    private readonly spec: ContributionSpec,
    private readonly clock: Clock,
    private readonly maxGroups: number,
  ) {
    this.state = new AggregateState(spec.numeric.length, maxGroups)
    this.byDocument = spec.window && spec.window.timeField === null ? new Map() : null
  }

  get ready(): boolean {
    return this.position !== undefined
  }

  get error(): GatewayError | undefined {
    return this.failure
  }

  get groups(): number {
    return this.state.groups
  }

  /** Counts a document as it is at the starting position (aggregates that keep totals only). */
  addDocument(doc: Document): void {
    const contribution = contributionOf(this.spec, doc, 0)
    if (contribution) this.state.add(contribution)
  }

  apply(change: AggregateChange): void {
    if (this.byDocument) {
      const previous = this.byDocument.get(change.id)
      if (previous) {
        this.state.remove(previous)
        this.byDocument.delete(change.id)
      }
      const next = change.after && contributionOf(this.spec, change.after, change.seconds)
      if (next) {
        this.state.add(next)
        this.byDocument.set(change.id, next)
      }
    } else {
      const previous = change.before && contributionOf(this.spec, change.before, change.seconds)
      if (previous) this.state.remove(previous)
      const next = change.after && contributionOf(this.spec, change.after, change.seconds)
      if (next) this.state.add(next)
    }
    if (this.position !== undefined) this.moved(change.position)
  }

  /** The value is complete up to `position`: from here on it is live. */
  start(position: Position): void {
    this.moved(position)
    this.scheduleTick()
  }

  /**
   * Forgets the value, to be computed again from a new starting position: not ready (subscribers wait, they see no
   * value) until the next `start()`. The version keeps counting, so that value is new to every subscriber.
   */
  reset(): void {
    this.close()
    this.state = new AggregateState(this.spec.numeric.length, this.maxGroups)
    this.byDocument?.clear()
    this.position = undefined
    this.cached = undefined
  }

  /** Reflects everything up to `position` (a high-water mark with no change of its own, too). */
  moved(position: Position): void {
    this.position = position
    this.version++
    this.notify()
  }

  fail(error: GatewayError): void {
    if (this.failure) return
    this.failure = error
    this.close()
    this.notify()
  }

  /**
   * The value now. Subscribers asking within the same second and version share one snapshot: a window's content
   * changes only at bucket boundaries, which fall on whole seconds.
   */
  snapshot(): AggregateSnapshot {
    const position = this.position!
    const commitMs = position.time ? position.time.t * 1000 : 0
    const asOf = Math.max(this.clock.now(), commitMs)
    const second = Math.floor(asOf / 1000)
    if (this.cached && this.cached.version === this.version && this.cached.second === second) return this.cached.snapshot
    const window = this.spec.window
    let groups: GroupValue[]
    if (window) {
      const { start, end } = windowAt(window, second)
      this.prune(start)
      groups = this.state.values(start, end)
    } else {
      groups = this.state.values()
    }
    const snapshot: AggregateSnapshot = { position, asOf: new Date(asOf), groups, memo: new Map() }
    this.cached = { version: this.version, second, snapshot }
    return snapshot
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  close(): void {
    this.cancelTick?.()
    this.cancelTick = undefined
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener()
  }

  private prune(start: number): boolean {
    const dropped = this.state.prune(start)
    if (dropped && this.byDocument) {
      for (const [id, contribution] of this.byDocument) if (contribution.bucket < start) this.byDocument.delete(id)
    }
    return dropped
  }

  /** At each bucket boundary the window moves: buckets leave it (and future-dated ones enter) without any write. */
  private scheduleTick(): void {
    const window = this.spec.window
    if (!window || this.failure) return
    const now = this.clock.now()
    const seconds = Math.floor(now / 1000)
    const current = windowAt(window, seconds)
    const wait = current.end * 1000 - now
    this.cancelTick = this.clock.schedule(Math.max(wait, 1), () => {
      const next = windowAt(window, Math.floor(this.clock.now() / 1000))
      const entered = this.state.holdsBetween(current.end, next.end)
      const left = this.prune(next.start)
      if (entered || left) {
        this.version++
        this.notify()
      }
      this.scheduleTick()
    })
  }
}
