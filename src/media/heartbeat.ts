import { LeaseLostError } from "./errors";

/**
 * Keeps a download's lease alive while bytes flow: `beat()` after each chunk renews it at most
 * every `intervalMs` (one RPC to the task's object), and `confirm()` renews it right before the
 * object is committed. A renewal that finds the lease taken throws LeaseLostError, so the
 * writer aborts and stores nothing. A body that stops sending stops the beats, and the lease
 * expires on its own.
 */
export class Heartbeat {
  private last: number;

  constructor(
    private readonly renew: () => Promise<boolean>,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.last = now();
  }

  async beat(): Promise<void> {
    if (this.now() - this.last >= this.intervalMs) await this.confirm();
  }

  async confirm(): Promise<void> {
    this.last = this.now();
    if (!(await this.renew())) throw new LeaseLostError("the download lease was taken by another claim");
  }
}
