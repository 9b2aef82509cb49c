/** `promise`, or a rejection with the signal's reason as soon as it is aborted (no signal: `promise`). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Interrupts the statement running on `connection` once `signal` aborts (the lake's close()), and
 * again every 20 ms until the returned function is called: DuckDB forgets an interrupt that comes
 * before its statement starts, and the operation may start one more before it sees the signal.
 */
export function interruptOnAbort(connection: { interrupt(): void }, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => undefined;
  let repeating: NodeJS.Timeout | undefined;
  const interruptNow = (): void => {
    try {
      connection.interrupt();
    } catch {
      // closed meanwhile: nothing runs on it
    }
  };
  const onAbort = (): void => {
    interruptNow();
    repeating ??= setInterval(interruptNow, 20);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return () => {
    signal.removeEventListener('abort', onAbort);
    clearInterval(repeating);
  };
}
