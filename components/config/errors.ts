/** Every problem found in a stack's config, reported together. */
export interface ConfigProblem {
  /** Stack-config key, e.g. `cluster:hosts[1].address`. */
  key: string;
  message: string;
}

export const CONFIG_NAMESPACE = "cluster";

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** ["hosts", 1, "address"] -> "cluster:hosts[1].address" */
export function configKey(path: ReadonlyArray<PropertyKey>): string {
  let key = CONFIG_NAMESPACE + ":";
  path.forEach((segment, i) => {
    if (typeof segment === "number") key += `[${segment}]`;
    else key += i === 0 ? String(segment) : `.${String(segment)}`;
  });
  return key.endsWith(":") ? key.slice(0, -1) : key;
}

/**
 * Adds each host's name where a problem points at it by index: "cluster:hosts[2].address" becomes
 * "cluster:hosts[2] (w1).address", in keys and messages alike. Hosts without a usable name keep the index only.
 */
export function nameHosts(problems: ConfigProblem[], hosts: unknown): ConfigProblem[] {
  const names = Array.isArray(hosts) ? hosts.map((h) => (h && typeof h === "object" ? (h as { name?: unknown }).name : undefined)) : [];
  const name = (text: string) =>
    text.replace(/\bhosts\[(\d+)\](?! \()/g, (ref, i: string) => {
      const n = names[Number(i)];
      return typeof n === "string" && n.length > 0 ? `${ref} (${n})` : ref;
    });
  return problems.map((p) => ({ key: name(p.key), message: name(p.message) }));
}

/** Collects problems while cross-field rules run; throws them all at once. */
export class ProblemList {
  readonly problems: ConfigProblem[] = [];
  add(path: ReadonlyArray<PropertyKey>, message: string): void {
    this.problems.push({ key: configKey(path), message });
  }
}

/** Closest known word, for "did you mean" hints on typos. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const prefixed = candidates.filter((c) => c.toLowerCase().startsWith(lower) || lower.startsWith(c.toLowerCase()));
  if (lower.length >= 3 && prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}
