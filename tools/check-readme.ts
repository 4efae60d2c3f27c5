// `npm test` runs this first: README.md must say each thing once. Merge residue (a paragraph or
// a bullet that landed twice, or twice in slightly different words) fails the run, naming both.
//
//   node tools/check-readme.ts [file]
//
// A block is a paragraph (text between blank lines) or a bullet (`- ` at the start of a line),
// fenced code left out. Blocks of 80 characters or more (after collapsing whitespace) are
// compared: identical is repeated; above 150 characters, so is a similarity ratio over 0.75
// (2 × matching characters / both lengths, as Python's difflib defines it, over jsdiff's word
// diff). No markdown linter has such a rule, hence these few lines.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { diffWords } from "diff";

const MIN_LENGTH = 80;
const MIN_SIMILAR_LENGTH = 150;
const MAX_SIMILARITY = 0.75;

export interface Repeat {
  block: string;
  earlier: string;
  /** 1 for identical blocks. */
  ratio: number;
}

/** The README's blocks, whitespace collapsed, without fenced code. */
export function blocks(markdown: string): string[] {
  return markdown
    .replace(/```[\s\S]*?```/g, "")
    .split(/\n\s*\n|\n(?=- )/)
    .map((block) => block.split(/\s+/).filter(Boolean).join(" "))
    .filter((block) => block.length >= MIN_LENGTH);
}

/**
 * About the most `similarity` can be, in one pass: the words both have, in any order (with the
 * space after each). Most pairs of paragraphs fail it by far; the margin below the threshold
 * covers the diff's other way of cutting words.
 */
function sharedWords(a: string, b: string): number {
  const counts = new Map<string, number>();
  for (const word of a.split(" ")) counts.set(word, (counts.get(word) ?? 0) + 1);
  let shared = 0;
  for (const word of b.split(" ")) {
    const left = counts.get(word) ?? 0;
    if (left > 0) {
      shared += word.length + 1;
      counts.set(word, left - 1);
    }
  }
  return (2 * shared) / (a.length + b.length);
}

/**
 * 2 × matching characters / (both lengths). The diff is taken word by word (jsdiff's
 * `diffWords`), which keeps it to milliseconds for a whole README; a reworded sentence counts
 * its changed words as unmatched.
 */
export function similarity(a: string, b: string): number {
  const total = a.length + b.length;
  if (2 * Math.min(a.length, b.length) <= MAX_SIMILARITY * total) return 0;
  if (sharedWords(a, b) <= MAX_SIMILARITY - 0.1) return 0;
  const common = diffWords(a, b).reduce(
    (sum, part) => sum + (part.added || part.removed ? 0 : part.value.length),
    0,
  );
  return (2 * common) / total;
}

/** Every block that repeats an earlier one, exactly or nearly. */
export function repeatedBlocks(markdown: string): Repeat[] {
  const seen: string[] = [];
  const repeats: Repeat[] = [];
  for (const block of blocks(markdown)) {
    for (const earlier of seen) {
      const ratio =
        block === earlier
          ? 1
          : Math.min(block.length, earlier.length) > MIN_SIMILAR_LENGTH
            ? similarity(block, earlier)
            : 0;
      if (ratio === 1 || ratio > MAX_SIMILARITY) {
        repeats.push({ block, earlier, ratio });
        break;
      }
    }
    seen.push(block);
  }
  return repeats;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? "README.md";
  const repeats = repeatedBlocks(readFileSync(file, "utf8"));
  for (const { block, earlier, ratio } of repeats) {
    const how = ratio === 1 ? "again" : `nearly again (${Math.round(ratio * 100)}% alike)`;
    console.error(
      `${file} says this ${how}:\n  ${block.slice(0, 120)}…\nfirst said as:\n  ${earlier.slice(0, 120)}…\n`,
    );
  }
  if (repeats.length > 0) {
    console.error(`${file}: ${repeats.length} repeated block(s); merge each into one.`);
    process.exit(1);
  }
  console.log(`${file}: no paragraph or bullet said twice`);
}
