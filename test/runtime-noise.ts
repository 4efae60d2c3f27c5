// The failure-path tests break connections on purpose (truncated bodies, aborted streams, origins
// that answer 5xx until a message is dead-lettered). workerd and miniflare report each of them on
// the runner's own stdout/stderr, outside any test, with native stack traces that read like
// failures. Those lines — and only those — are counted here instead of printed; one line at the
// end says how many. SHOW_RUNTIME_LOGS=1 prints them as they come.

const EXPECTED = [
  /^exception = .*disconnected: /,
  /^stack: \S*workerd@/,
  /^uncaught exception; source = Uncaught \(in promise\); stack = (Error: Network connection lost\.|TypeError: Can't read from request stream because client disconnected\.)$/,
  // A bundle whose R2 object vanished mid-stream: the response body errors on purpose.
  /^uncaught exception; exception = \S+ failed: jsg\.Error: bundle aborted: /,
  /^\[mf:warn\] Moving message "\w+" on queue "[\w-]+" to dead letter queue "[\w-]+" after \d+ failed attempts\.\.\.$/,
];

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes
const plain = (line: string) => line.replace(/\x1b\[[0-9;]*m/g, "");

export function hideExpectedRuntimeNoise(): void {
  if (process.env.SHOW_RUNTIME_LOGS) return;
  let hidden = 0;
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      const lines = text.split("\n");
      const kept = lines.filter((line) => !EXPECTED.some((pattern) => pattern.test(plain(line))));
      if (kept.length === lines.length) return write(chunk, ...rest);
      hidden += lines.length - kept.length;
      const remaining = kept.join("\n");
      return remaining.trim() === "" ? true : write(remaining, ...rest);
    }) as typeof stream.write;
  }
  process.once("exit", () => {
    if (hidden === 0) return;
    process.stderr.write(
      `(${hidden} lines of workerd/miniflare output hidden: connections the failure-path tests break on purpose ` +
        "and messages they dead-letter; SHOW_RUNTIME_LOGS=1 shows them)\n",
    );
  });
}
