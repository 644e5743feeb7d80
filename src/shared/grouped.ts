import DataLoader from 'dataloader';

export interface GroupOptions {
  /** How long the first call of a group waits for others. */
  windowMs: number;
  /** Most calls in one group. */
  maxSize: number;
  /**
   * Most groups running at once. A group due while that many run keeps gathering calls until one
   * ends (a group commit's classic rule): under a steady stream groups grow with the load instead
   * of a transaction per call or two, and at low load nothing waits longer than `windowMs`.
   */
  maxInFlight?: number;
}

/**
 * Calls that arrive within `windowMs` of each other (up to `maxSize` of them) are handed to `run`
 * together, for one statement or one transaction; each caller still gets its own result, or its
 * own error when `run` puts an Error in its place (a throw fails them all). DataLoader does the
 * gathering; nothing is cached.
 */
export function grouped<K, V>(
  run: (keys: readonly K[]) => Promise<ReadonlyArray<V | Error>>,
  options: GroupOptions,
): (key: K) => Promise<V> {
  const maxInFlight = options.maxInFlight ?? Infinity;
  let inFlight = 0;
  const due: Array<() => void> = [];
  const startNext = () => {
    while (inFlight < maxInFlight && due.length) due.shift()!();
  };
  const loader = new DataLoader<K, V>(
    async (keys) => {
      inFlight += 1;
      try {
        return await run(keys);
      } finally {
        inFlight -= 1;
        startNext();
      }
    },
    {
      cache: false,
      maxBatchSize: options.maxSize,
      // DataLoader keeps adding calls to a group until its dispatch runs, so a group queued here grows meanwhile.
      batchScheduleFn: (dispatch) => setTimeout(() => {
        due.push(dispatch);
        startNext();
      }, options.windowMs),
    },
  );
  return (key) => loader.load(key);
}
