import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { blocks, repeatedBlocks } from "../../tools/check-readme";

const paragraph =
  "Every configured source check must pass; with none configured (no token, no HMAC key, no IP list) " +
  "callbacks get 503 receiver_not_configured, and npm run dev adds exactly the development settings.";

describe("tools/check-readme.ts", () => {
  it("passes the project's README", () => {
    expect(repeatedBlocks(readFileSync("README.md", "utf8"))).toEqual([]);
  });

  it("finds a paragraph said twice, whatever its line breaks", () => {
    const wrapped = paragraph.replace(/; /, ";\n").replace(/, and /, ",\n  and ");
    const repeats = repeatedBlocks(`# Title\n\n${paragraph}\n\nSomething else.\n\n${wrapped}\n`);
    expect(repeats).toHaveLength(1);
    expect(repeats[0]?.ratio).toBe(1);
  });

  it("finds a paragraph said twice in slightly different words", () => {
    const reworded = paragraph.replace("exactly the development settings", "only the development settings");
    const [repeat] = repeatedBlocks(`${paragraph}\n\n${reworded}\n`);
    expect(repeat?.ratio).toBeGreaterThan(0.75);
    expect(repeat?.ratio).toBeLessThan(1);
  });

  it("finds a bullet said twice inside one list", () => {
    const bullet = `- \`test/confirmation/\` — ${paragraph}`;
    expect(repeatedBlocks(`${bullet}\n- another item\n${bullet}\n`)).toHaveLength(1);
  });

  it("leaves alone short lines, fenced code and paragraphs that only share words", () => {
    const code = "```sh\nnpm run dev          # a command that a README may well show twice in its code\n```";
    const other =
      "The consumer only fetches https URLs whose host matches MEDIA_HOSTS, never IP literals of " +
      "private ranges, re-checks every redirect hop and records size and SHA-256 of every file.";
    const text = `${code}\n\n${code}\n\nnpm test\n\nnpm test\n\n${paragraph}\n\n${other}\n`;
    expect(blocks(text)).toHaveLength(2);
    expect(repeatedBlocks(text)).toEqual([]);
  });
});
