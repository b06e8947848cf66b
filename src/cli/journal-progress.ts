/**
 * Progress for long journal commands, on stderr so stdout stays clean for data: a bar redrawn in
 * place on a terminal, or a line every 10% (at most one per 5 s otherwise) when piped to a log.
 */
const BAR = 30;
const fmt = (n: number) => n.toLocaleString('en-US');

export class Progress {
  private done = 0;
  private lastDraw = 0;
  private lastPercent = -1;
  private readonly started = Date.now();
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = out.isTTY === true;
  }

  update(done: number): void {
    this.done = done;
    const now = Date.now();
    const percent = this.total > 0 ? Math.min(100, Math.floor((done / this.total) * 100)) : 100;
    if (this.tty) {
      if (now - this.lastDraw < 100) return;
      this.lastDraw = now;
      const filled = Math.round((percent / 100) * BAR);
      this.out.write(`\r${this.label} [${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ${percent}% ${fmt(done)}/${fmt(this.total)} ${this.rate(now)}`);
      return;
    }
    if (Math.floor(percent / 10) > Math.floor(this.lastPercent / 10) || now - this.lastDraw > 5000) {
      this.lastDraw = now;
      this.lastPercent = percent;
      this.out.write(`${this.label}: ${percent}% (${fmt(done)} of ${fmt(this.total)}) ${this.rate(now)}\n`);
    }
  }

  finish(): void {
    if (this.tty) {
      this.lastDraw = 0;
      this.update(this.done);
      this.out.write('\n');
    }
  }

  private rate(now: number): string {
    const seconds = (now - this.started) / 1000;
    return seconds >= 1 ? `${fmt(Math.round(this.done / seconds))}/s` : '';
  }
}
