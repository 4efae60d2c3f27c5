// Printed by `npm run dev` (predev) before wrangler starts: where the dashboard is and which
// development tokens the dev script sets (package.json). Wrangler prints the port it really got.
const port = 8787;
console.log(`
  stemvault (development)
    dashboard     http://127.0.0.1:${port}/        API token: dev-api-token
    callbacks     http://127.0.0.1:${port}/callbacks?token=dev-callback-token
  (another port with \`npm run dev -- --port N\`: use the address wrangler prints below)
`);
