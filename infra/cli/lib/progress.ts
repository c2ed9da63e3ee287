/**
 * What a transfer's progress bar shows: the phase (hashing, checking resumed parts, uploading), the
 * bytes accounted for, and a speed counted from the bytes this run sent, so parts skipped on a resume
 * move the bar without inflating the rate.
 */
export class TransferMeter {
  phase = 'starting';
  /** Bytes sent by this run. */
  sent = 0;
  /** Bytes already on the store (a resume), counted for the bar only. */
  skipped = 0;
  private firstSendAt: number | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  setPhase(phase: string) {
    this.phase = phase;
  }
  addSent(n: number) {
    this.firstSendAt ??= this.now();
    this.sent += n;
  }
  addSkipped(n: number) {
    this.skipped += n;
  }
  get done() {
    return this.sent + this.skipped;
  }
  /** MB/s over the time since this run sent its first byte. */
  speedMBps(): number {
    if (this.firstSendAt === undefined) return 0;
    return this.sent / 1e6 / Math.max(0.001, (this.now() - this.firstSendAt) / 1000);
  }
}

/** How the upload reports progress (the CLI's bar, or nothing). */
export interface ProgressSink {
  phase(label: string): void;
  add(n: number): void;
  skip(n: number): void;
}
