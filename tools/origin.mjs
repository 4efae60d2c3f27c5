// Runs the local test media origin (test/helpers/origin.ts) until Ctrl-C, e.g. to point
// `npm run dev` at it by hand:
//
//   node_modules/.bin/node tools/origin.mjs [--port 9090] [--host 127.0.0.1]
//
// Needs Node >= 22.18 (TypeScript type stripping on by default; the project's node_modules/.bin/node
// is 22.23). Prints the two base URLs, e.g. `curl "$URL/bytes/a.mp3?size=1048576&seed=1"`.
import { startOrigin } from "../test/helpers/origin.ts";

const args = process.argv.slice(2);
const arg = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};

const origin = await startOrigin({
  host: arg("host"),
  port: arg("port") === undefined ? undefined : Number(arg("port")),
});
console.log(`origin    ${origin.url}`);
console.log(`alt host  ${origin.altUrl}`);
console.log(`log       ${origin.url}/__log`);

const stop = async () => {
  await origin.close();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
