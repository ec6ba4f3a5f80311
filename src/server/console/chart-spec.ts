import { aggregateFieldsOf, aggregateSubscriptionName } from '../../aggregates/fields.js'
import type { Model } from '../../models/index.js'

/** What the console's live chart subscribes to; the page carries it as JSON for console.js. */
export interface ConsoleChartSpec {
  /** The model's aggregate subscription field (`orderAggregate`). */
  readonly subscription: string
  /** The `groupBy` value and the key field it fills; absent when the model has nothing to group by. */
  readonly groupBy?: { readonly enumValue: string; readonly keyField: string }
  /** The numeric field whose sum the chart shows; absent when the model has none. */
  readonly sumField?: string
  /** Seconds. */
  readonly window: { readonly size: number; readonly slide: number }
}

/** Five minutes, moving every ten seconds. */
export const CONSOLE_CHART_WINDOW = { size: 300, slide: 10 } as const

/** The chart for `model`: its aggregate, grouped by its first groupable field, summing its first numeric one. */
export function consoleChartOf(model: Model): ConsoleChartSpec {
  const fields = aggregateFieldsOf(model)
  const group = fields.groupable[0]
  return {
    subscription: aggregateSubscriptionName(model),
    ...(group ? { groupBy: { enumValue: group.enumValue, keyField: group.name } } : {}),
    ...(fields.numeric[0] ? { sumField: fields.numeric[0].name } : {}),
    window: CONSOLE_CHART_WINDOW,
  }
}
