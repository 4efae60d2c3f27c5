/**
 * Pending work a capability of the task object owns: a download to re-drive, a queue message to
 * send, a manifest to write, an index row, an event. Nothing pending lives only in memory or only
 * in a queue: each capability derives what is due, and when, from its own rows, and the object's
 * one alarm asks them all (`nextDueAt`) and runs whatever is due (`runDue`).
 */
export interface PendingWork {
  /** When some of its work is next due, as its stored state says; null when nothing is pending. */
  nextDueAt(): number | null;
  /**
   * The same as `nextDueAt()`, as a query of the task's tables (one row, one column `next`, no
   * parameters), for a capability whose answer is one query: the object then asks all of them in
   * one statement with every change, instead of one statement each.
   */
  readonly dueQuery?: string;
  /** Does whatever is due at `now`: re-drives, re-sends, re-writes. */
  runDue(now: number): Promise<void> | void;
}
