import DataLoader from 'dataloader';

/**
 * Calls that arrive within `windowMs` of each other (up to `maxSize` of them) are handed to `run`
 * together, for one statement or one transaction; each caller still gets its own result, or its
 * own error when `run` puts an Error in its place (a throw fails them all). DataLoader does the
 * gathering; nothing is cached.
 */
export function grouped<K, V>(
  run: (keys: readonly K[]) => Promise<ReadonlyArray<V | Error>>,
  options: { windowMs: number; maxSize: number },
): (key: K) => Promise<V> {
  const loader = new DataLoader<K, V>(run, {
    cache: false,
    maxBatchSize: options.maxSize,
    batchScheduleFn: (dispatch) => setTimeout(dispatch, options.windowMs),
  });
  return (key) => loader.load(key);
}
