import type { PendingWork } from "./pending-work";
import type { TaskRows } from "./rows";

/**
 * The alarm is never set closer than this, so a burst of changes does not re-fire it at once;
 * nor is an alarm moved later by less than this (firing a moment early, it finds nothing due
 * and re-arms), which spares a durable write when two due times are a few milliseconds apart.
 */
const MIN_ALARM_DELAY_MS = 1000;

/**
 * The task object's one alarm, set to when the stored state next needs it: the earliest moment
 * any capability has work due, or none when nothing is pending. Asked with every change, so it
 * asks cheaply: the capabilities that answer from one query of the task's tables (`dueQuery`)
 * are asked in one statement, the others (cached rows, settings) in JavaScript; and the alarm is
 * only written when it moves.
 */
export class TaskAlarm {
  /** The capabilities asked in JavaScript... */
  private readonly asked: PendingWork[];
  /** ...and one statement for the `dueQuery` of all the others. */
  private readonly statement: string;
  /** The alarm as this instance last set or read it (undefined: not read yet). */
  private at: number | null | undefined;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly rows: TaskRows,
    pending: PendingWork[],
  ) {
    this.asked = pending.filter((work) => work.dueQuery === undefined);
    const queries = pending.flatMap((work) => (work.dueQuery ? [`SELECT (${work.dueQuery}) AS next`] : []));
    this.statement = `SELECT MIN(next) AS next FROM (${queries.join(" UNION ALL ")})`;
    if (!rows.exists) this.at = null; // nothing was ever stored, so no alarm either
  }

  /** The earliest moment any capability has work due; null when nothing is pending. */
  nextDueAt(): number | null {
    const wakeUps = this.asked.map((work) => work.nextDueAt());
    if (this.rows.exists)
      wakeUps.push(this.storage.sql.exec<{ next: number | null }>(this.statement).one().next);
    const due = wakeUps.filter((at): at is number => at !== null);
    return due.length === 0 ? null : Math.min(...due);
  }

  /**
   * Sets the alarm to exactly when the stored state next needs it, or clears it when nothing is
   * pending; so an alarm armed for a lease that has since ended never fires for nothing.
   */
  async schedule(): Promise<void> {
    const next = this.nextDueAt();
    const at = next === null ? null : Math.max(next, Date.now() + MIN_ALARM_DELAY_MS);
    this.at ??= await this.storage.getAlarm();
    if (this.at === at) return;
    if (at !== null && this.at !== null && this.at < at && at - this.at < MIN_ALARM_DELAY_MS) return;
    if (at === null) await this.storage.deleteAlarm();
    else await this.storage.setAlarm(at);
    this.at = at;
  }

  /** The alarm has fired: whatever runs now arms the next one. */
  fired(): void {
    this.at = null;
  }
}
