import type { TaskDeletion } from "./deletion";
import type { TaskEvents } from "./events";
import type { IndexSync } from "./index-sync";
import type { ManifestWriter } from "./manifest";
import type { MediaOutbox } from "./outbox";
import type { TaskRows } from "./rows";
import type { TaskAlarm } from "./task-alarm";

/** The capabilities whose work follows a change of the task. */
export interface FollowedUp {
  rows: TaskRows;
  outbox: MediaOutbox;
  manifest: ManifestWriter;
  events: TaskEvents;
  index: IndexSync;
  deletion: TaskDeletion;
}

/**
 * What follows a change of the task in its object, once the change is recorded: the alarm set to
 * when the stored state next needs it, the queue messages, manifest and event a change leased or
 * made due, and the index row's write a moment later. Every piece is due in the object's rows
 * before any of it runs, so whatever fails here (or is lost with the instance) the alarm re-drives.
 */
export class FollowUps {
  constructor(
    private readonly parts: FollowedUp,
    private readonly alarm: TaskAlarm,
    private readonly waitUntil: (promise: Promise<unknown>) => void,
  ) {}

  /** Sets the task's one alarm to when the stored state next needs it (see TaskAlarm). */
  scheduleAlarm(): Promise<void> {
    return this.alarm.schedule();
  }

  /** The alarm has fired: whatever runs now arms the next one. */
  alarmFired(): void {
    this.alarm.fired();
  }

  /** After any change but a callback's record: marks, writes and sends what it made due. */
  async afterChange(): Promise<void> {
    const { rows, index, events, manifest, deletion } = this.parts;
    index.mark(Date.now());
    if (rows.task()) {
      // In the transaction of the change that settled the task, with the alarm that sends it if
      // this object stops before it does.
      if (events.observe(Date.now())) await this.scheduleAlarm();
      await manifest.writeIfDue();
      await events.sendLeased();
    } else if (!deletion.deleted) return;
    await this.scheduleAlarm();
    this.syncIndexSoon();
  }

  /**
   * What a recorded callback hands on after its answer (kept alive with `waitUntil`): the queue
   * messages of the assets it leased, a manifest if it settled the task, the event it recorded,
   * the index row. Its index row and event were marked in the callback's transaction, and
   * sending changes neither, so this is afterChange without the marking. Never throws: what
   * fails here stays due in the object's rows, and the alarm re-drives it.
   */
  handOnLater(leased: string[]): void {
    this.waitUntil(this.handOn(leased));
  }

  /**
   * Writes the index row after the answer, once the task is quiet for a moment: nothing waits
   * for it, least of all a callback's provider. Should the write fail or be lost, the alarm
   * (which the caller armed after marking the row) writes it.
   */
  syncIndexSoon(): void {
    const { index } = this.parts;
    if (!index.pending()) return;
    const written = index.flushSoon();
    if (!written) return; // a wait already under way covers this change, and re-arms after it
    this.waitUntil(written.then(() => this.scheduleAlarm()).catch(() => {}));
  }

  private async handOn(leased: string[]): Promise<void> {
    const { outbox, manifest, events } = this.parts;
    await outbox.send(leased);
    // Assets on their way to the queue: the archive is not settled, so no manifest is due.
    const wrote = leased.length === 0 && (await manifest.writeIfDue());
    const sent = await events.sendLeased();
    // The alarm armed with the record stays right unless something here changed what is due.
    if (leased.length > 0 || wrote || sent) await this.scheduleAlarm();
    this.syncIndexSoon();
  }
}
