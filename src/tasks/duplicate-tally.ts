import { log } from "../core/log";
import { taskStub } from "./stub";

/** How many recorded callbacks an isolate remembers (~300 bytes each). */
const REMEMBERED = 4096;
/** Duplicates answered from memory reach their task object this long after the first of them. */
const FLUSH_AFTER_MS = 1000;

/** A callback a task object holds: its task, its content hash, and whether its shape is known. */
export interface KnownCallback {
  taskId: string;
  hash: string;
  recognized: boolean;
}

/**
 * What identifies a repeat without parsing it: the route it arrived at (a kind in the path
 * decides what the body may be) and the SHA-256 of its bytes. A repeat formatted otherwise is
 * not recognised here and goes to the task object, which knows it by its canonical hash.
 */
export const receivedKey = (route: string, bodySha256: string) => `${route}\n${bodySha256}`;

/** Duplicates of one task not yet added to its object: per content hash, how many, and the last. */
interface Unflushed {
  counts: Map<string, number>;
  lastAt: number;
  flushing: Promise<void> | null;
}

/**
 * The duplicate path without a round trip. Providers resend a callback they already delivered
 * (a timeout on their side, or just their retry policy), often many times; its answer needs no
 * durable write, since the callback was recorded the first time. So an isolate remembers the
 * callbacks its task objects confirmed as recorded (by their bytes and route), answers a repeat
 * of one after its source checks and before any parsing, and adds the repeats to the task's duplicate counts in one call per task a second
 * later (`countDuplicates`), which also re-drives any overdue queue send as a duplicate always
 * did. What this trades: for up to a second the counts lag (a status read in the same isolate
 * flushes first, so it never does there), and an isolate that dies in that second loses those
 * counts, never a callback. An isolate that never saw a callback asks its object, as before.
 */
export class DuplicateTally {
  /** By the body's bytes and where it arrived (see `receivedKey`): the callback it was. */
  private readonly recorded = new Map<string, KnownCallback>();
  private readonly unflushed = new Map<string, Unflushed>();

  constructor(private readonly remembered = REMEMBERED) {}

  /** The task object said it holds this callback (recorded now, or a duplicate of one it holds). */
  remember(key: string, known: KnownCallback): void {
    this.recorded.delete(key); // re-inserted: most recent last, so the oldest is forgotten first
    this.recorded.set(key, known);
    if (this.recorded.size > this.remembered) {
      const oldest = this.recorded.keys().next().value;
      if (oldest !== undefined) this.recorded.delete(oldest);
    }
  }

  /** The recorded callback a body (by `receivedKey`) is a repeat of, if this isolate knows it. */
  recall(key: string): KnownCallback | undefined {
    return this.recorded.get(key);
  }

  /** Counts a repeat of `known`; the flush that adds it to the task is kept alive by `waitUntil`. */
  count(env: Env, waitUntil: (promise: Promise<unknown>) => void, known: KnownCallback): void {
    const { taskId, hash } = known;
    let pending = this.unflushed.get(taskId);
    if (!pending) {
      pending = { counts: new Map(), lastAt: 0, flushing: null };
      this.unflushed.set(taskId, pending);
      const scheduled = pending;
      scheduled.flushing = sleep(FLUSH_AFTER_MS).then(() => this.send(env, taskId, scheduled));
      waitUntil(scheduled.flushing);
    }
    pending.counts.set(hash, (pending.counts.get(hash) ?? 0) + 1);
    pending.lastAt = Date.now();
  }

  /** Adds the task's duplicates counted here to its object now (before reading its status). */
  async flush(env: Env, taskId: string): Promise<void> {
    const pending = this.unflushed.get(taskId);
    if (pending) await this.send(env, taskId, pending);
  }

  /** Forgets everything (tests: their storage starts empty, so nothing is recorded any more). */
  clear(): void {
    this.recorded.clear();
    this.unflushed.clear();
  }

  private async send(env: Env, taskId: string, pending: Unflushed): Promise<void> {
    if (this.unflushed.get(taskId) !== pending) return; // sent already
    this.unflushed.delete(taskId);
    const counts = [...pending.counts].map(([hash, count]) => ({ hash, count }));
    try {
      await taskStub(env, taskId).countDuplicates(counts, pending.lastAt);
    } catch (error) {
      log.warn("duplicates_not_counted", { taskId, duplicates: counts.length, error });
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** This isolate's tally. */
export const duplicateTally = new DuplicateTally();
