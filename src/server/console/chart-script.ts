import { CONSOLE_CHART_WINDOW } from './chart-spec.js'

/**
 * The console's live chart, a part of console.js: the first model's `<model>Aggregate` subscription over the
 * console's WebSocket client, drawn as one SVG bar per group (count, and the sum of one numeric field), with the
 * value's `asOf` and window. What to subscribe to comes from the page (`<meta name="changegate-chart">`, see
 * chart-spec.ts) or, when the page does not carry it, from introspection (dev mode). After a dropped connection
 * it resubscribes with `after:` the last cursor. Uses `$`, `graphql` and `socket` of the enclosing script.
 * Plain ES5-style script: no template literals, no backslashes.
 */
export const CHART_SCRIPT = `
  var SVG_NS = 'http://www.w3.org/2000/svg'
  var CHART_WINDOW = ${JSON.stringify(CONSOLE_CHART_WINDOW)}
  var CHART = { width: 760, row: 24, label: 160, sum: 160, retryMs: 3000 }
  var SCHEMA_QUERY = 'query ConsoleChartSchema { __schema { subscriptionType { name } types { name fields { name args { name type { ...TypeRef } } type { ...TypeRef } } enumValues { name } } } } fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }'
  var chartSpec = null
  var chartRun = null

  function namedType(ref) {
    while (ref && ref.ofType) ref = ref.ofType
    return ref ? ref.name : null
  }

  function fieldOf(type, name) {
    return ((type && type.fields) || []).filter(function (f) { return f.name === name })[0]
  }

  // The same choice as chart-spec.ts: the first aggregate subscription (the first model's), its first groupBy
  // value (the key type lists the groupable fields in the enum's order) and its first numeric field.
  function chartSpecFromSchema(schema) {
    var types = {}
    schema.types.forEach(function (t) { types[t.name] = t })
    var field = ((schema.subscriptionType && types[schema.subscriptionType.name].fields) || []).filter(function (f) {
      return f.name.slice(-9) === 'Aggregate' && f.args.some(function (a) { return a.name === 'window' })
    })[0]
    if (!field) return null
    var group = types[namedType(fieldOf(types[namedType(field.type)], 'groups').type)]
    var spec = { subscription: field.name, window: CHART_WINDOW }
    var groupBy = field.args.filter(function (a) { return a.name === 'groupBy' })[0]
    var key = fieldOf(group, 'key')
    if (groupBy && key) spec.groupBy = { enumValue: types[namedType(groupBy.type)].enumValues[0].name, keyField: types[namedType(key.type)].fields[0].name }
    var sum = fieldOf(group, 'sum')
    if (sum) spec.sumField = types[namedType(sum.type)].fields[0].name
    return spec
  }

  function loadChartSpec() {
    if (chartSpec) return Promise.resolve(chartSpec)
    var meta = document.querySelector('meta[name="changegate-chart"]')
    if (meta) return Promise.resolve((chartSpec = JSON.parse(meta.getAttribute('content'))))
    return graphql(SCHEMA_QUERY).then(function (data) { return (chartSpec = chartSpecFromSchema(data.__schema)) })
  }

  function chartQuery(spec, after) {
    var args = ['window: { size: ' + spec.window.size + ', slide: ' + spec.window.slide + ' }']
    if (spec.groupBy) args.push('groupBy: [' + spec.groupBy.enumValue + ']')
    if (after) args.push('after: ' + JSON.stringify(after))
    var selection = (spec.groupBy ? 'key { ' + spec.groupBy.keyField + ' } ' : '') + 'count' + (spec.sumField ? ' sum { ' + spec.sumField + ' }' : '')
    return 'subscription ConsoleChart { ' + spec.subscription + '(' + args.join(', ') + ') { cursor asOf windowStart windowEnd groups { ' + selection + ' } } }'
  }

  function describeChart(spec) {
    return spec.subscription + (spec.groupBy ? ' by ' + spec.groupBy.keyField : '') + ': count' + (spec.sumField ? ' and sum of ' + spec.sumField : '') +
      ', ' + spec.window.size + ' s window sliding every ' + spec.window.slide + ' s'
  }

  function svg(name, attributes, text) {
    var element = document.createElementNS(SVG_NS, name)
    Object.keys(attributes).forEach(function (a) { element.setAttribute(a, String(attributes[a])) })
    if (text !== undefined) element.textContent = text
    return element
  }

  function groupLabel(spec, group) {
    if (!spec.groupBy) return 'all'
    var value = group.key[spec.groupBy.keyField]
    return value === null || value === undefined ? '(none)' : String(value)
  }

  function formatNumber(n) {
    return n === null || n === undefined ? '–' : String(Math.round(n * 100) / 100)
  }

  function time(iso) {
    return new Date(iso).toLocaleTimeString()
  }

  function drawChart(spec, value) {
    var chart = $('aggregate-chart')
    var groups = value.groups.map(function (g) { return { label: groupLabel(spec, g), group: g } })
    groups.sort(function (a, b) { return a.label < b.label ? -1 : a.label > b.label ? 1 : 0 })
    var max = Math.max.apply(null, groups.map(function (g) { return g.group.count }).concat([1]))
    var barSpace = CHART.width - CHART.label - CHART.sum - 48
    var height = Math.max(1, groups.length) * CHART.row
    chart.textContent = ''
    chart.setAttribute('viewBox', '0 0 ' + CHART.width + ' ' + height)
    chart.setAttribute('height', String(height))
    groups.forEach(function (g, i) {
      var row = svg('g', { 'class': 'aggregate-group', transform: 'translate(0 ' + i * CHART.row + ')' })
      var width = Math.max(1, (g.group.count / max) * barSpace)
      row.appendChild(svg('text', { 'class': 'aggregate-label', x: CHART.label - 8, y: 16, 'text-anchor': 'end' }, g.label))
      row.appendChild(svg('rect', { 'class': 'aggregate-bar', x: CHART.label, y: 4, width: width, height: CHART.row - 8, rx: 2 }))
      row.appendChild(svg('text', { 'class': 'aggregate-count', x: CHART.label + width + 6, y: 16 }, String(g.group.count)))
      if (spec.sumField) row.appendChild(svg('text', { 'class': 'aggregate-sum', x: CHART.width - 4, y: 16, 'text-anchor': 'end' }, 'sum ' + formatNumber(g.group.sum[spec.sumField])))
      chart.appendChild(row)
    })
    if (!groups.length) chart.appendChild(svg('text', { 'class': 'aggregate-empty', x: 8, y: 16 }, 'No documents in the window.'))
    $('aggregate-window').textContent = 'as of ' + time(value.asOf) +
      (value.windowStart ? ', window ' + time(value.windowStart) + ' – ' + time(value.windowEnd) : ', all time')
    $('aggregate-window').title = 'asOf ' + value.asOf + (value.windowStart ? ', window [' + value.windowStart + ', ' + value.windowEnd + ')' : '')
  }

  function subscribeChart(run, spec) {
    run.stop = socket().subscribe({ query: chartQuery(spec, run.cursor) }, {
      next: function (result) {
        if (chartRun !== run) return
        if (result.errors) { $('aggregate-status').textContent = result.errors[0].message; return }
        var value = result.data[spec.subscription]
        run.cursor = value.cursor
        drawChart(spec, value)
        $('aggregate-status').textContent = 'live'
      },
      error: function (error) {
        if (chartRun !== run) return
        // A refused cursor (expired history) resumes from now; a dropped connection from the last value.
        var first = Array.isArray(error) ? error[0] : null
        if (first) run.cursor = null
        $('aggregate-status').textContent = 'reconnecting: ' + (first ? first.message : (error && error.reason) || 'connection closed')
        run.retry = setTimeout(function () { if (chartRun === run) subscribeChart(run, spec) }, CHART.retryMs)
      },
      complete: function () { if (chartRun === run) $('aggregate-status').textContent = 'completed' }
    })
  }

  function stopChart() {
    if (chartRun) {
      clearTimeout(chartRun.retry)
      if (chartRun.stop) chartRun.stop()
    }
    chartRun = null
  }

  function startChart() {
    stopChart()
    var run = { cursor: null }
    chartRun = run
    $('aggregate-status').textContent = 'connecting'
    loadChartSpec().then(function (spec) {
      if (chartRun !== run) return
      if (!spec) {
        $('aggregate').hidden = true
        return
      }
      $('aggregate-title').textContent = describeChart(spec)
      subscribeChart(run, spec)
    }, function (error) {
      if (chartRun === run) $('aggregate-status').textContent = 'unavailable: ' + error.message
    })
  }
`
