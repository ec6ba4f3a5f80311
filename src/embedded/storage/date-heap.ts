/**
 * A min-heap of (time, indexed value) pairs: the TTL pass pops what has expired instead of scanning the
 * collection. Entries are never removed early; one whose value no longer holds documents is skipped when popped.
 */
export interface DateEntry {
  readonly ms: number
  /** The canonical index value (`d<ms>`) the documents are filed under. */
  readonly value: string
}

export class DateHeap {
  private readonly items: DateEntry[] = []

  get size(): number {
    return this.items.length
  }

  peek(): DateEntry | undefined {
    return this.items[0]
  }

  push(entry: DateEntry): void {
    const items = this.items
    items.push(entry)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (items[parent].ms <= entry.ms) break
      items[i] = items[parent]
      i = parent
    }
    items[i] = entry
  }

  pop(): DateEntry | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (items.length === 0 || last === undefined) return top
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= items.length) break
      const right = left + 1
      const child = right < items.length && items[right].ms < items[left].ms ? right : left
      if (items[child].ms >= last.ms) break
      items[i] = items[child]
      i = child
    }
    items[i] = last
    return top
  }
}

/** The time of a canonical index value that holds a date (`d<ms>`), or undefined. */
export function dateOfValue(value: string): number | undefined {
  return value.charCodeAt(0) === 100 /* d */ ? Number(value.slice(1)) : undefined
}

/** A heap of every date value in an index's entries. */
export function heapOfDates(values: Iterable<string>): DateHeap {
  const heap = new DateHeap()
  for (const value of values) {
    const ms = dateOfValue(value)
    if (ms !== undefined && Number.isFinite(ms)) heap.push({ ms, value })
  }
  return heap
}
