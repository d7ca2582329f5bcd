/**
 * Property values as a provider receives them from the engine (the provider says it accepts
 * secrets): secrets arrive wrapped in the signature object, values not known yet (preview) as
 * the unknown sentinel. The doubles unwrap what they use and hand the wrapped inputs back as
 * outputs, so the engine keeps every secret input a secret in the state.
 */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type Props = Record<string, unknown>;

export function isSecret(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Props)[SECRET_SIG] === SECRET_VALUE;
}

/** The plain value, secrets unwrapped at every depth. */
export function reveal(v: unknown): unknown {
  if (isSecret(v)) return reveal(v.value);
  if (Array.isArray(v)) return v.map(reveal);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
  return v;
}

export function secret(value: unknown): Props {
  return { [SECRET_SIG]: SECRET_VALUE, value };
}

/** The input properties whose values differ (secrets compared by value, unknowns always differ). */
export function changedKeys(olds: Props, news: Props, outputOnly: readonly string[]): string[] {
  const keys = new Set([...Object.keys(olds), ...Object.keys(news)].filter((k) => !outputOnly.includes(k) && !k.startsWith("__")));
  const text = (v: unknown) => JSON.stringify(reveal(v) ?? null);
  return [...keys].filter((k) => JSON.stringify(news[k] ?? null).includes(UNKNOWN) || text(olds[k]) !== text(news[k])).sort();
}
