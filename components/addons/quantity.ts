/** Kubernetes quantities as numbers, for sizes derived from configured limits. */

const SUFFIX: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** "2Gi" -> 2147483648. Accepts what the config's quantity() field accepts. */
export function quantityBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$/.exec(quantity);
  if (!match) throw new Error(`not a Kubernetes quantity: ${quantity}`);
  return Number(match[1]) * SUFFIX[match[2] ?? ""];
}

/** The JVM caps compressed object pointers just below 32 GiB; 31g is the usual safe ceiling. */
export const MAX_HEAP_MIB = 31 * 1024;

/** Elasticsearch heap: half the container memory limit, in whole MiB, at most 31g. */
export function elasticsearchHeapMiB(memoryLimit: string): number {
  return Math.min(Math.floor(quantityBytes(memoryLimit) / 2 / 2 ** 20), MAX_HEAP_MIB);
}
