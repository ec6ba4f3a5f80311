/**
 * Window arithmetic in whole seconds. A window of `size` seconds that slides every `slide` seconds (tumbling when
 * `slide = size`) is made of buckets `slide` seconds long, each starting at a multiple of `slide` since the epoch.
 * At instant T the window holds the `size / slide` buckets ending with the one that contains T:
 * `[end - size, end)` with `end = floor(T / slide) * slide + slide`.
 */
export interface WindowSpec {
  readonly sizeSeconds: number
  readonly slideSeconds: number
  /** Dotted path of a DateTime field placing each document; null: the commit time of its last change. */
  readonly timeField: string | null
}

export const bucketOf = (window: WindowSpec, epochSeconds: number): number =>
  Math.floor(epochSeconds / window.slideSeconds) * window.slideSeconds

/** The window at `epochSeconds`: buckets `b` with `start <= b < end`. */
export function windowAt(window: WindowSpec, epochSeconds: number): { readonly start: number; readonly end: number } {
  const end = bucketOf(window, epochSeconds) + window.slideSeconds
  return { start: end - window.sizeSeconds, end }
}
