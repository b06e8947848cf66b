/**
 * Publishes the signed journal head (head.ts) to the operator's sink (head-sinks.ts) every
 * ROSTER_JOURNAL_HEAD_INTERVAL_SECONDS while `roster serve` runs, when the head has moved since
 * this process last published it, and once more at shutdown. A failed publication is logged and
 * retried at the next interval; it never affects requests. Each process publishes on its own:
 * heads only move forward, so two processes publishing the same head is harmless.
 */
import type { Knex } from 'knex';
import { logger } from '../logging/logger.js';
import { currentHead, type PublishedHead } from './head.js';
import type { HeadSink } from '../config/head-sink.js';
import { describeSink, publishHead } from './head-sinks.js';
import type { JournalKey } from './key.js';

export class HeadPublisher {
  private timer: NodeJS.Timeout | undefined;
  private lastPublished: { seq: number; hash: string } | undefined;
  private readonly known = { sealedFrom: null as number | null };
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Knex,
    private readonly sink: HeadSink,
    private readonly key: JournalKey,
    private readonly intervalSeconds: number,
  ) {}

  start(): void {
    void this.publishIfMoved();
    this.timer = setInterval(() => void this.publishIfMoved(), this.intervalSeconds * 1000);
    this.timer.unref();
  }

  /** Publishes the current head unless it is the one published last; returns it when published. */
  publishIfMoved(): Promise<PublishedHead | undefined> {
    const attempt = this.running.then(async () => {
      try {
        const head = await currentHead(this.db, this.key, this.known);
        if (this.lastPublished && this.lastPublished.seq === head.seq && this.lastPublished.hash === head.hash) return undefined;
        await publishHead(this.sink, head);
        this.lastPublished = { seq: head.seq, hash: head.hash };
        logger.debug('journal head published', { seq: head.seq, sink: describeSink(this.sink) });
        return head;
      } catch (error) {
        logger.error('could not publish the journal head', { sink: describeSink(this.sink), error: (error as Error).message });
        return undefined;
      }
    });
    this.running = attempt;
    return attempt;
  }

  /** Stops the timer after publishing the final head. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.publishIfMoved();
  }
}
