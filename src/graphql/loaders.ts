import DataLoader from 'dataloader';

/**
 * Per-operation DataLoaders, created on first use by the feature that owns them. They batch inside
 * the operation's own transaction, so a batch never mixes tenants or outlives the operation.
 */
export class LoaderRegistry {
  readonly #loaders = new Map<string, DataLoader<unknown, unknown>>();

  get<K, V>(name: string, batch: DataLoader.BatchLoadFn<K, V>): DataLoader<K, V> {
    let loader = this.#loaders.get(name) as DataLoader<K, V> | undefined;
    if (!loader) {
      loader = new DataLoader<K, V>(batch, { maxBatchSize: 500 });
      this.#loaders.set(name, loader);
    }
    return loader;
  }
}

/** Orders batch results to match the requested keys, as DataLoader requires. */
export function byKey<K, V>(
  keys: readonly K[],
  rows: V[],
  keyOf: (row: V) => K,
): (V | undefined)[] {
  const map = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => map.get(key));
}

/** Groups batch results per requested key (for one-to-many loads). */
export function groupByKey<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): V[][] {
  const groups = new Map<K, V[]>(keys.map((key) => [key, []]));
  for (const row of rows) groups.get(keyOf(row))?.push(row);
  return keys.map((key) => groups.get(key) ?? []);
}
