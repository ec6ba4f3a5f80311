import type { ConsoleChartSpec } from './chart-spec.js'
import { GRAPHQL_WS_PATH } from './paths.js'

const escapeAttribute = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)

/**
 * The console's HTML. No inline script (the page's CSP forbids it): the dev admin token, the example
 * subscription and the live chart's subscription (`consoleChartOf`), when given, travel in `<meta>`
 * elements that console.js reads. Without `chart`, console.js finds the chart's subscription by introspection,
 * which production mode refuses.
 */
export function renderConsolePage(devToken?: string, exampleSubscription?: string, chart?: ConsoleChartSpec): string {
  const token =
    (devToken ? `\n    <meta name="changegate-dev-token" content="${escapeAttribute(devToken)}" />` : '') +
    (exampleSubscription ? `\n    <meta name="changegate-example" content="${escapeAttribute(exampleSubscription)}" />` : '') +
    (chart ? `\n    <meta name="changegate-chart" content="${escapeAttribute(JSON.stringify(chart))}" />` : '')
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>changegate console</title>${token}
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="/console/console.css" />
  </head>
  <body>
    <header>
      <h1>changegate console</h1>
      <form id="token-form">
        <label>Admin token <input id="token" type="password" autocomplete="off" placeholder="Bearer token with scope admin" /></label>
        <button type="submit">Connect</button>
      </form>
      <span id="updated"></span>
    </header>
    <div id="refusal" class="refusal" role="alert" hidden></div>
    <main id="dashboard" hidden>
      <section>
        <h2>Streams</h2>
        <table id="streams">
          <thead><tr><th>key</th><th>collection</th><th>state</th><th>owner node</th><th>epoch</th><th>subscribers</th><th>lag</th><th>events/s</th><th>last minute</th><th>errors</th><th>resume position</th></tr></thead>
          <tbody></tbody>
        </table>
      </section>
      <section>
        <h2>Gateway nodes</h2>
        <table id="nodes">
          <thead><tr><th>id</th><th>address</th><th>connections</th><th>subscriptions</th><th>heartbeat age</th><th>owned streams</th><th>started</th></tr></thead>
          <tbody></tbody>
        </table>
      </section>
      <section>
        <h2>Errors sent to clients, by code <small>(this node, from /metrics)</small></h2>
        <table id="errors">
          <thead><tr><th>code</th><th>since start</th><th>last minute</th></tr></thead>
          <tbody></tbody>
        </table>
      </section>
      <section id="aggregate">
        <h2>Live aggregate <small id="aggregate-title"></small></h2>
        <div class="row"><span id="aggregate-window"></span><span id="aggregate-status"></span></div>
        <svg id="aggregate-chart" width="100%" height="24" role="img" aria-label="Live aggregate, one bar per group"></svg>
      </section>
      <div class="columns">
        <section>
          <h2>Live tail <small>(the token's tenant)</small></h2>
          <textarea id="tail-query" rows="7" spellcheck="false"></textarea>
          <div class="row">
            <button id="tail-start">Start</button><button id="tail-stop" disabled>Stop</button>
            <input id="tail-filter" placeholder="show only events containing…" />
            <span id="tail-status"></span>
          </div>
          <ol id="tail"></ol>
        </section>
        <section>
          <h2>Explain a subscription</h2>
          <textarea id="explain-query" rows="7" spellcheck="false"></textarea>
          <div class="row"><button id="explain-run">Explain</button></div>
          <pre id="explain-result"></pre>
        </section>
      </div>
    </main>
    <script src="${GRAPHQL_WS_PATH}"></script>
    <script src="/console/console.js"></script>
  </body>
</html>
`
}

export const CONSOLE_CSS = `
body { font: 13px/1.4 system-ui, sans-serif; margin: 0; color: #1f2430; background: #f6f7f9; }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1rem; background: #1f2430; color: #fff; }
header h1 { font-size: 16px; margin: 0 1rem 0 0; }
header input { width: 22rem; }
#updated { margin-left: auto; opacity: .7; }
main { padding: 0 1rem 1rem; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: .5rem .8rem; margin-top: 1rem; }
h2 { font-size: 14px; margin: .2rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #eef0f3; white-space: nowrap; }
td.mono, pre, textarea, #tail { font-family: ui-monospace, monospace; font-size: 12px; }
.state-RUNNING { color: #15803d; font-weight: 600; } .state-FAILED { color: #b91c1c; font-weight: 600; }
.state-RESUMING, .state-STARTING { color: #b45309; font-weight: 600; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
textarea { width: 100%; box-sizing: border-box; }
.row { display: flex; gap: .5rem; align-items: center; margin: .4rem 0; }
#tail { max-height: 22rem; overflow: auto; padding-left: 1.5rem; }
#tail li { white-space: pre-wrap; word-break: break-all; border-bottom: 1px solid #eef0f3; }
.refusal { margin: 1rem; padding: 1rem; background: #fef2f2; border: 1px solid #fca5a5; color: #991b1b; border-radius: 6px; font-weight: 600; }
canvas { vertical-align: middle; }
#aggregate-chart { display: block; max-width: 760px; }
#aggregate-status { margin-left: auto; opacity: .7; }
.aggregate-bar { fill: #60a5fa; }
.aggregate-label, .aggregate-count, .aggregate-sum, .aggregate-empty { font-size: 12px; fill: #1f2430; }
.aggregate-sum { font-family: ui-monospace, monospace; }
`
