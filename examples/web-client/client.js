// A resumable changegate subscription in the browser: graphql-ws + the last cursor in localStorage.
const QUERY = `subscription ($after: Cursor) {
  orderChanged(after: $after) { cursor transition operationType documentId order { status totalAmount } }
}`
const params = new URLSearchParams(location.search)
if (params.get('token')) localStorage.setItem('changegate.token', params.get('token'))
const token = localStorage.getItem('changegate.token')
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`

// What this tab received, across reloads (the list below shows it; tests read window.received).
window.received = JSON.parse(localStorage.getItem('changegate.received') ?? '[]')
const list = document.getElementById('events')
const status = (text) => (document.getElementById('status').textContent = text)
const show = (e) => {
  const li = document.createElement('li')
  li.className = e.transition
  li.textContent = `${e.transition} ${e.operationType} ${e.documentId} ${e.order ? `${e.order.status} ${e.order.totalAmount}` : ''}`
  list.prepend(li)
}
window.received.forEach(show)
document.getElementById('forget').onclick = () => {
  localStorage.removeItem('changegate.cursor')
  localStorage.removeItem('changegate.received')
  location.reload()
}

function subscribe() {
  // Each attempt starts from the latest stored cursor, so a reconnect never replays what was already shown.
  const after = localStorage.getItem('changegate.cursor')
  const client = graphqlWs.createClient({ url: wsUrl, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } })
  status(after ? 'resuming after the last cursor' : 'live')
  let ended = false
  const retry = (code) => {
    if (ended) return
    ended = true
    // A cursor older than MongoDB's history (or not valid) cannot resume: start again from now.
    if (code === 'CURSOR_EXPIRED' || code === 'INVALID_CURSOR') localStorage.removeItem('changegate.cursor')
    client.dispose()
    status(`disconnected (${code}), retrying in 1 s`)
    setTimeout(subscribe, 1000)
  }
  client.subscribe({ query: QUERY, variables: { after } }, {
    next({ data, errors }) {
      if (errors) return retry(errors[0].extensions?.code ?? errors[0].message)
      const event = data.orderChanged
      // Store the cursor and the event together: whatever is shown is also what the next resume starts after.
      window.received.push(event)
      localStorage.setItem('changegate.received', JSON.stringify(window.received.slice(-500)))
      localStorage.setItem('changegate.cursor', event.cursor)
      status('live')
      show(event)
    },
    error: (error) => retry((Array.isArray(error) && error[0].extensions?.code) || 'connection lost'),
    complete: () => retry('completed'),
  })
}

if (token) subscribe()
else status('no token: open this page with ?token=<a dev token printed by npm start>')
