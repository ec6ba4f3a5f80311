/** Where the browser build of graphql-ws is served (for the console and the example client). */
export const GRAPHQL_WS_PATH = '/assets/graphql-ws.min.js'
