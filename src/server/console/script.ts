import { CHART_SCRIPT } from './chart-script.js'

/**
 * The console's browser script, served as /console/console.js. It uses only the gateway's public GraphQL API:
 * it polls `streams` and `gatewayNodes` while the page is open and visible, runs `explainSubscription`, and
 * tails changes and draws a live aggregate ({@link CHART_SCRIPT}) with graphql-ws subscriptions on one WebSocket
 * client (graphql-ws's browser build is loaded by the page).
 * Plain ES5-style script: no template literals, so it can live in this TypeScript string.
 */
export const CONSOLE_SCRIPT = `(function () {
  'use strict'
  var NL = String.fromCharCode(10)
  var POLL_MS = 1500
  var HISTORY = 40
  var STATUS_QUERY = 'query ConsoleStatus { streams { key collection state ownerNode epoch subscribers eventsReceived errors lagMs lastEventAt resumeToken startedAt } gatewayNodes { id address connections subscriptions heartbeatAgeMs ownedStreams startedAt } }'
  var EXPLAIN_QUERY = 'query ConsoleExplain($query: String!) { explainSubscription(query: $query) { streamKey collection filterRunsIn pipeline } }'
  var TAIL_DEFAULT = ['subscription {', '  orderChanged {', '    transition operationType documentId clusterTime', '    order { status totalAmount region }', '    updatedFields { path value }', '  }', '}'].join(NL)
  var EXPLAIN_DEFAULT = ['subscription {', '  orderChanged(filter: { status: [SHIPPED, DELIVERED], minTotal: 100 }) {', '    cursor transition order { status totalAmount }', '  }', '}'].join(NL)

  var $ = function (id) { return document.getElementById(id) }
  var meta = document.querySelector('meta[name="changegate-dev-token"]')
  var token = sessionStorage.getItem('changegate.console.token') || (meta ? meta.getAttribute('content') : '') || ''
  var pollTimer = null
  var samples = {}
  var tail = null
  var ws = null

  $('token').value = token
  var example = document.querySelector('meta[name="changegate-example"]')
  $('tail-query').value = example ? example.getAttribute('content') : TAIL_DEFAULT
  $('explain-query').value = example ? example.getAttribute('content') : EXPLAIN_DEFAULT

  function graphql(query, variables) {
    return fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token },
      body: JSON.stringify({ query: query, variables: variables || {} })
    }).then(function (response) {
      if (response.status === 401) throw refusal('The gateway refused this token: it is invalid or expired.')
      return response.json()
    }).then(function (body) {
      var errors = body.errors || []
      for (var i = 0; i < errors.length; i++) {
        var code = errors[i].extensions && errors[i].extensions.code
        if (code === 'FORBIDDEN') throw refusal('Refused: this token does not have scope "admin". The console shows operational state only to admin tokens.')
      }
      if (errors.length && !body.data) throw new Error(errors[0].message)
      return body.data
    })
  }

  // One WebSocket client for the tail and the chart; lazy, so it closes when neither subscribes.
  function socket() {
    if (ws) return ws
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/graphql'
    var client = graphqlWs.createClient({ url: url, retryAttempts: 0, connectionParams: { authorization: 'Bearer ' + token } })
    client.on('closed', function () { if (ws === client) ws = null })
    ws = client
    return client
  }

  function closeSocket() {
    if (ws) ws.dispose()
    ws = null
  }

  function refusal(message) {
    var error = new Error(message)
    error.refusal = true
    return error
  }

  function showRefusal(message) {
    stopChart()
    $('refusal').textContent = message
    $('refusal').hidden = false
    $('dashboard').hidden = true
  }

  function cell(row, text, className) {
    var td = document.createElement('td')
    td.textContent = text === null || text === undefined ? '–' : String(text)
    if (className) td.className = className
    row.appendChild(td)
    return td
  }

  function rate(stream, now) {
    var s = samples[stream.key] || (samples[stream.key] = { count: stream.eventsReceived, at: now, rates: [] })
    var seconds = (now - s.at) / 1000
    if (seconds > 0) {
      s.rates.push(Math.max(0, (stream.eventsReceived - s.count) / seconds))
      if (s.rates.length > HISTORY) s.rates.shift()
    }
    s.count = stream.eventsReceived
    s.at = now
    return s
  }

  function chart(rates) {
    var canvas = document.createElement('canvas')
    canvas.width = 160
    canvas.height = 28
    var ctx = canvas.getContext('2d')
    var max = Math.max.apply(null, rates.concat([1])) * 1.25
    var x = function (i) { return canvas.width - 1 - (rates.length - 1 - i) * ((canvas.width - 2) / (HISTORY - 1)) }
    var y = function (v) { return canvas.height - 1 - (v / max) * (canvas.height - 2) }
    ctx.fillStyle = '#f1f5f9'
    ctx.fillRect(0, 0, canvas.width, canvas.height)
    if (!rates.length) return canvas
    ctx.beginPath()
    ctx.moveTo(x(0), canvas.height)
    for (var i = 0; i < rates.length; i++) ctx.lineTo(x(i), y(rates[i]))
    ctx.lineTo(x(rates.length - 1), canvas.height)
    ctx.closePath()
    ctx.fillStyle = '#bfdbfe'
    ctx.fill()
    ctx.beginPath()
    for (var j = 0; j < rates.length; j++) {
      if (j === 0) ctx.moveTo(x(j), y(rates[j]))
      else ctx.lineTo(x(j), y(rates[j]))
    }
    ctx.strokeStyle = '#2563eb'
    ctx.lineWidth = 1.5
    ctx.stroke()
    return canvas
  }

  function renderStreams(streams) {
    var body = $('streams').querySelector('tbody')
    var now = Date.now()
    body.textContent = ''
    streams.forEach(function (stream) {
      var s = rate(stream, now)
      var row = document.createElement('tr')
      row.dataset.key = stream.key
      cell(row, stream.key, 'mono')
      cell(row, stream.collection)
      cell(row, stream.state, 'state state-' + stream.state)
      cell(row, stream.ownerNode)
      cell(row, stream.epoch)
      cell(row, stream.subscribers, 'subscribers')
      cell(row, stream.lagMs === null ? null : Math.round(stream.lagMs) + ' ms')
      cell(row, s.rates.length ? s.rates[s.rates.length - 1].toFixed(1) : '0.0', 'rate')
      cell(row, '').appendChild(chart(s.rates))
      cell(row, stream.errors)
      var resume = cell(row, stream.resumeToken ? stream.resumeToken.slice(0, 24) + '…' : null, 'mono')
      if (stream.resumeToken) resume.title = stream.resumeToken
      body.appendChild(row)
    })
    if (!streams.length) cell(body.appendChild(document.createElement('tr')), 'No shared streams yet: they start with the first subscription.')
  }

  function renderNodes(nodes) {
    var body = $('nodes').querySelector('tbody')
    body.textContent = ''
    nodes.forEach(function (node) {
      var row = document.createElement('tr')
      cell(row, node.id, 'mono')
      cell(row, node.address)
      cell(row, node.connections)
      cell(row, node.subscriptions)
      cell(row, Math.round(node.heartbeatAgeMs) + ' ms')
      cell(row, node.ownedStreams.length)
      cell(row, node.startedAt)
      body.appendChild(row)
    })
  }

  // changegate_errors_total{code="X"} N lines of /metrics; the last minute is the change over ~40 polls.
  var errorHistory = []
  function pollErrors() {
    return fetch('/metrics').then(function (response) { return response.text() }).then(function (text) {
      var prefix = 'changegate_errors_total{code="'
      var counts = {}
      text.split(NL).forEach(function (line) {
        if (line.indexOf(prefix) !== 0) return
        var rest = line.slice(prefix.length)
        counts[rest.slice(0, rest.indexOf('"'))] = Number(rest.slice(rest.lastIndexOf(' ') + 1))
      })
      errorHistory.push({ at: Date.now(), counts: counts })
      while (errorHistory.length && errorHistory[0].at < Date.now() - 60000) errorHistory.shift()
      var oldest = errorHistory[0].counts
      var body = $('errors').querySelector('tbody')
      body.textContent = ''
      Object.keys(counts).sort().forEach(function (code) {
        var row = document.createElement('tr')
        cell(row, code, 'mono')
        cell(row, counts[code])
        cell(row, counts[code] - (oldest[code] || 0))
        body.appendChild(row)
      })
      if (!Object.keys(counts).length) cell(body.appendChild(document.createElement('tr')), 'No errors sent since start.')
    }, function () { /* /metrics unreachable: the status poll reports it */ })
  }

  function poll() {
    clearTimeout(pollTimer)
    if (!token) return showRefusal('Enter a token with scope "admin" to see the gateway.')
    if (document.hidden) { pollTimer = setTimeout(poll, POLL_MS); return }
    graphql(STATUS_QUERY).then(function (data) {
      $('refusal').hidden = true
      $('dashboard').hidden = false
      if (!chartRun) startChart()
      renderStreams(data.streams)
      renderNodes(data.gatewayNodes)
      pollErrors()
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString()
      pollTimer = setTimeout(poll, POLL_MS)
    }, function (error) {
      if (error.refusal) return showRefusal(error.message)
      $('updated').textContent = 'gateway unreachable: ' + error.message
      pollTimer = setTimeout(poll, POLL_MS * 2)
    })
  }

  function applyFilter(li) {
    var needle = $('tail-filter').value.trim().toLowerCase()
    li.hidden = needle !== '' && li.textContent.toLowerCase().indexOf(needle) === -1
  }

  function stopTail(message) {
    if (tail) tail.stop()
    tail = null
    $('tail-start').disabled = false
    $('tail-stop').disabled = true
    $('tail-status').textContent = message || 'stopped'
  }

  function startTail() {
    stopTail('connecting')
    $('tail-start').disabled = true
    $('tail-stop').disabled = false
    var run = {}
    tail = run
    run.stop = socket().subscribe({ query: $('tail-query').value }, {
      next: function (result) {
        if (tail !== run) return
        $('tail-status').textContent = 'live'
        var li = document.createElement('li')
        li.textContent = new Date().toLocaleTimeString() + ' ' + JSON.stringify(result.errors ? { errors: result.errors } : result.data)
        applyFilter(li)
        var list = $('tail')
        list.insertBefore(li, list.firstChild)
        while (list.children.length > 200) list.removeChild(list.lastChild)
      },
      error: function (error) {
        if (tail !== run) return
        var first = Array.isArray(error) ? error[0] : null
        stopTail('ended: ' + (first ? first.message : (error && error.reason) || 'connection closed'))
      },
      complete: function () { if (tail === run) stopTail('completed') }
    })
    setTimeout(function () { if (tail === run && $('tail-status').textContent === 'connecting') $('tail-status').textContent = 'live' }, 500)
  }

${CHART_SCRIPT}
  $('tail-start').addEventListener('click', startTail)
  $('tail-stop').addEventListener('click', function () { stopTail() })
  $('tail-filter').addEventListener('input', function () { Array.prototype.forEach.call($('tail').children, applyFilter) })
  $('explain-run').addEventListener('click', function () {
    $('explain-result').textContent = 'explaining…'
    graphql(EXPLAIN_QUERY, { query: $('explain-query').value }).then(function (data) {
      $('explain-result').textContent = JSON.stringify(data.explainSubscription, null, 2)
    }, function (error) {
      $('explain-result').textContent = error.message
    })
  })
  $('token-form').addEventListener('submit', function (event) {
    event.preventDefault()
    token = $('token').value.trim().replace(/^Bearer +/i, '')
    sessionStorage.setItem('changegate.console.token', token)
    samples = {}
    stopChart()
    closeSocket()
    if (tail) startTail()
    poll()
  })
  document.addEventListener('visibilitychange', function () { if (!document.hidden) poll() })
  poll()
})()
`
