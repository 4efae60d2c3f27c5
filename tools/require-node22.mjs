// npm puts node_modules/.bin first on PATH, so scripts run on the Node 22 from the `node`
// devDependency. If its install script did not run, they silently fall back to the system Node.
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(
    `Node ${process.version} found, but wrangler and vitest need Node >= 22.12.\n` +
      "Run `npm install` (with install scripts enabled) so node_modules/.bin/node (Node 22) exists.",
  );
  process.exit(1);
}
