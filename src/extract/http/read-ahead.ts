/**
 * A bounded queue between a producer that fetches pages and the consumer that writes them.
 * Pages keep arriving while the lake validates or flushes a batch to Parquet (HTTP and DuckDB
 * overlap), and the byte budget keeps memory flat however long the run.
 */
export class ReadAhead<T> {
  private readonly items: { item: T; bytes: number }[] = [];
  private queuedBytes = 0;
  private finished = false;
  private failure: { error: unknown } | undefined;
  private stopped = false;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  /** `budgetBytes`: the producer waits while this much is queued (one item always fits). */
  constructor(private readonly budgetBytes: number) {}

  /** True once the consumer stopped reading: the producer should stop too. */
  get closed(): boolean {
    return this.stopped;
  }

  /** Queues an item, waiting while the budget is used up. */
  async push(item: T, bytes: number): Promise<void> {
    while (!this.stopped && this.items.length > 0 && this.queuedBytes + bytes > this.budgetBytes) {
      await new Promise<void>((resolve) => (this.wakeProducer = resolve));
    }
    if (this.stopped) return;
    this.items.push({ item, bytes });
    this.queuedBytes += bytes;
    this.wake('consumer');
  }

  /** No more items; with `error`, the consumer gets it after the items already queued. */
  end(error?: unknown): void {
    this.finished = true;
    if (error !== undefined) this.failure = { error };
    this.wake('consumer');
  }

  /** The next item in order; undefined at the end; throws the producer's error in its place. */
  async shift(): Promise<T | undefined> {
    while (this.items.length === 0 && !this.finished) {
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
    const next = this.items.shift();
    if (next) {
      this.queuedBytes -= next.bytes;
      this.wake('producer');
      return next.item;
    }
    if (this.failure) throw this.failure.error;
    return undefined;
  }

  /** The consumer is gone: release the producer and drop what is queued. */
  close(): void {
    this.stopped = true;
    this.items.length = 0;
    this.queuedBytes = 0;
    this.wake('producer');
  }

  private wake(who: 'consumer' | 'producer'): void {
    const wake = who === 'consumer' ? this.wakeConsumer : this.wakeProducer;
    if (who === 'consumer') this.wakeConsumer = undefined;
    else this.wakeProducer = undefined;
    wake?.();
  }
}
