/**
 * Positions in a collection's change history, and their order.
 *
 * A **token** position is "just after this event" (or, for a resume token MongoDB hands out between events, a
 * high-water mark: "after everything before this point"). A **time** position T is "after everything committed
 * at or before cluster time T": what `changeCursor` returns.
 *
 * Order rule (what {@link comparePositions} implements):
 * - two tokens compare by their `_data` hex, which MongoDB builds so that byte order is history order (its first
 *   bytes are the cluster time; events of one transaction, sharing a time, follow their order in it);
 * - two times compare by (t, i);
 * - a token with cluster time t and a time T: the token is before T when t <= T and after it when t > T. An
 *   event committed at T is covered by "everything at or before T"; a high-water mark at T means "events at T
 *   may still follow", so it also sorts before time T. A token and a time are never equal;
 * - a token whose cluster time is unknown sorts before every time (the safe side: a subscriber catches up
 *   rather than skipping).
 */

export interface ClusterTime {
  readonly t: number
  readonly i: number
}

/** A point in the change history: an event's resume token, or a cluster time ("everything after T"). */
export type Position =
  | { readonly kind: 'token'; readonly token: string; readonly time: ClusterTime | null }
  | { readonly kind: 'time'; readonly time: ClusterTime }

/** A bson Timestamp (either build) or anything else with unsigned `t` and `i`. */
export interface TimestampLike {
  readonly t: number
  readonly i: number
}

const TIME_PREFIX = /^82([0-9A-F]{8})([0-9A-F]{8})/

/**
 * The cluster time a resume token starts with (MongoDB's KeyString encoding of a Timestamp: type byte 0x82, then
 * t and i big-endian), or null for a token that does not start that way.
 */
export function tokenClusterTime(token: string): ClusterTime | null {
  const match = TIME_PREFIX.exec(token)
  return match ? { t: parseInt(match[1], 16), i: parseInt(match[2], 16) } : null
}

/** Hex is case-insensitive; comparing upper-case forms keeps byte order. */
const normalizeToken = (token: string) => token.toUpperCase()

export function positionFromToken(token: { _data: string }): Position {
  const data = normalizeToken(token._data)
  return { kind: 'token', token: data, time: tokenClusterTime(data) }
}

export function positionFromEvent(event: { _id: { _data: string }; clusterTime?: TimestampLike }): Position {
  const data = normalizeToken(event._id._data)
  const time = event.clusterTime ? { t: event.clusterTime.t, i: event.clusterTime.i } : tokenClusterTime(data)
  return { kind: 'token', token: data, time }
}

export function positionFromTime(time: TimestampLike): Position {
  return { kind: 'time', time: { t: time.t, i: time.i } }
}

export function compareClusterTimes(a: ClusterTime, b: ClusterTime): number {
  return a.t !== b.t ? (a.t < b.t ? -1 : 1) : a.i !== b.i ? (a.i < b.i ? -1 : 1) : 0
}

/** Negative when `a` is earlier, positive when later, 0 when the same point (see the order rule above). */
export function comparePositions(a: Position, b: Position): number {
  if (a.kind === 'token' && b.kind === 'token') {
    return a.token === b.token ? 0 : a.token < b.token ? -1 : 1
  }
  if (a.kind === 'time' && b.kind === 'time') return compareClusterTimes(a.time, b.time)
  if (a.kind === 'token' && b.kind === 'time') return tokenVersusTime(a.time, b.time)
  if (a.kind === 'time' && b.kind === 'token') return -tokenVersusTime(b.time, a.time)
  throw new TypeError('not a position')
}

function tokenVersusTime(token: ClusterTime | null, time: ClusterTime): number {
  if (token === null) return -1
  return compareClusterTimes(token, time) <= 0 ? -1 : 1
}

/** True when an event at `eventPos` comes strictly after `pos` (so a subscriber at `pos` has not seen it). */
export function isAfter(eventPos: Position, pos: Position): boolean {
  return comparePositions(eventPos, pos) > 0
}

/** The resume token document for a token position. */
export const resumeTokenOf = (position: Position & { kind: 'token' }): { _data: string } => ({ _data: position.token })
