import * as fs from "node:fs";
import * as path from "node:path";
import { NODE_PREP_PARTS } from "../../components/remote/bundle";

/**
 * How long each kind of resource takes to create, from docs/step-durations.json. Remote steps
 * are known by the step part of their name ("<host>/<step>"), optionally for one role of the
 * node the step belongs to ("kubeadm-join@control-plane"); every other resource by its type.
 * Keys may use "*" for any run of characters ("etcd-certs-*", "random:*").
 */
export interface DurationEntry {
  seconds: number;
  /** "measured: <test + date>" or "estimate: <reasoning>". */
  source: string;
}

export interface DurationTable {
  steps: Record<string, DurationEntry>;
  types: Record<string, DurationEntry>;
}

export type Role = "control-plane" | "worker" | "etcd" | "load-balancer";

export interface Classified {
  /** The table key that matched, prefixed by its section ("step:os-prep", "type:random:*"). */
  key: string;
  seconds: number;
  measured: boolean;
}

export const DURATIONS_FILE = path.resolve(__dirname, "..", "..", "docs", "step-durations.json");
const REMOTE_STEP_TYPE = "command:remote:Command";

/** Checks the table's shape; every problem names its key. */
export function parseDurationTable(raw: unknown, file = "step-durations.json"): DurationTable {
  const problems: string[] = [];
  const table = raw as Partial<DurationTable> | null;
  const section = (name: "steps" | "types"): Record<string, DurationEntry> => {
    const value = table?.[name];
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      problems.push(`${file}: "${name}" must be an object of entries`);
      return {};
    }
    for (const [key, entry] of Object.entries(value)) {
      const where = `${file}: ${name}["${key}"]`;
      if (typeof entry?.seconds !== "number" || !(entry.seconds >= 0) || !Number.isFinite(entry.seconds)) problems.push(`${where}.seconds must be a number >= 0`);
      if (typeof entry?.source !== "string" || !/^(measured|estimate): \S/.test(entry.source)) {
        problems.push(`${where}.source must start with "measured: " or "estimate: " and say where the number comes from`);
      }
    }
    return value as Record<string, DurationEntry>;
  };
  const steps = section("steps");
  const types = section("types");
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return { steps, types };
}

export function loadDurationTable(file = DURATIONS_FILE): DurationTable {
  return parseDurationTable(JSON.parse(fs.readFileSync(file, "utf8")), path.basename(file));
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

/** The entry for `text`: an exact key wins, then the glob with the most literal characters. */
function lookup(entries: Record<string, DurationEntry>, text: string): [string, DurationEntry] | undefined {
  if (Object.hasOwn(entries, text)) return [text, entries[text]];
  const matches = Object.entries(entries)
    .filter(([key]) => key.includes("*") && globToRegExp(key).test(text))
    .sort(([a], [b]) => b.replace(/\*/g, "").length - a.replace(/\*/g, "").length);
  return matches[0];
}

function partition(entries: Record<string, DurationEntry>, test: (key: string) => boolean): [Record<string, DurationEntry>, Record<string, DurationEntry>] {
  const yes: Record<string, DurationEntry> = {};
  const no: Record<string, DurationEntry> = {};
  for (const [key, entry] of Object.entries(entries)) (test(key) ? yes : no)[key] = entry;
  return [yes, no];
}

const NODE_PREP = "node-prep";
/** The parts a host's node-prep runs (components/remote/bundle.ts): all of them on Kubernetes nodes. */
const NODE_PREP_PARTS_OF: Record<Role, readonly string[]> = {
  "control-plane": NODE_PREP_PARTS,
  worker: NODE_PREP_PARTS,
  // Balancers and etcd members get no runtime, packages or kubeadm files.
  etcd: ["os-prep", "hosts-file"],
  "load-balancer": ["os-prep", "hosts-file"],
};

/** node-prep takes the sum of its parts' entries (measured only when every part is). */
function nodePrep(table: DurationTable, resource: { name: string; type: string }, role?: Role): Classified | undefined {
  if (!role) return undefined;
  const parts = NODE_PREP_PARTS_OF[role].map((part) => classify(table, { name: `${resource.name.slice(0, resource.name.indexOf("/"))}/${part}`, type: resource.type }, role));
  if (parts.some((p) => p === undefined)) return undefined;
  const found = parts as Classified[];
  return { key: `step:${NODE_PREP}@${role} (sum of ${NODE_PREP_PARTS_OF[role].join(", ")})`, seconds: found.reduce((sum, p) => sum + p.seconds, 0), measured: found.every((p) => p.measured) };
}

/** The step part of a remote step's name: "prod-w1/kubeadm-join" -> "kubeadm-join". */
export function stepKind(name: string): string {
  const slash = name.indexOf("/");
  return slash < 0 ? name : name.slice(slash + 1);
}

/**
 * The duration of one resource, or undefined when the table has no entry for it (the caller
 * reports those: an unknown step must never count as instantaneous without anyone noticing).
 */
export function classify(table: DurationTable, resource: { name: string; type: string }, role?: Role): Classified | undefined {
  let found: [string, DurationEntry] | undefined;
  let section: string;
  if (resource.type === REMOTE_STEP_TYPE && stepKind(resource.name) === NODE_PREP) return nodePrep(table, resource, role);
  if (resource.type === REMOTE_STEP_TYPE) {
    section = "step";
    const kind = stepKind(resource.name);
    const [perRole, plain] = partition(table.steps, (key) => key.includes("@"));
    found = (role && lookup(perRole, `${kind}@${role}`)) || lookup(plain, kind);
  } else {
    section = "type";
    found = lookup(table.types, resource.type);
  }
  if (!found) return undefined;
  return { key: `${section}:${found[0]}`, seconds: found[1].seconds, measured: found[1].source.startsWith("measured:") };
}

/**
 * One create of a remote step on a test host, as test/hosts/steps.ts's applyStep appends it (a
 * JSON line) to the file $KOP_STEP_TIMINGS names; scripts/bench/measure-steps.ts collects them.
 */
export interface StepTiming {
  /** The step part of its id ("os-prep", "etcd-certs-e2"). */
  step: string;
  host: string;
  /** Wall time of the create script over SSH, from this machine. */
  ms: number;
  /**
   * The first create of this step on this host in its test file's run: the real work on a fresh
   * host. Later creates are idempotent re-runs (near no-ops) or updates, and never count.
   */
  first: boolean;
  /**
   * How many steps (this one included) ran at once, in the same test process, on average over
   * this one's run (to 0.1). All test hosts share the machine's CPUs: above `cpus`, steps slowed
   * each other.
   */
  parallel: number;
  /** The CPUs of the machine running the test hosts. */
  cpus: number;
  /** The test file, relative to the repository. */
  file: string;
  /** The test's full name ("describe > it"), or "(setup hook)" for beforeAll and the like. */
  test: string;
  /** When the step started (ISO 8601, UTC). */
  date: string;
}

/** Parses $KOP_STEP_TIMINGS (one StepTiming per line); every problem names its line. */
export function parseStepTimings(text: string, file = "step timings"): StepTiming[] {
  const records: StepTiming[] = [];
  const problems: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const where = `${file}:${i + 1}`;
    let r: Partial<StepTiming>;
    try {
      r = JSON.parse(line);
    } catch (e) {
      problems.push(`${where}: not JSON (${(e as Error).message})`);
      return;
    }
    const strings = (["step", "host", "file", "test", "date"] as const).filter((k) => typeof r[k] !== "string" || r[k] === "");
    if (strings.length > 0) problems.push(`${where}: ${strings.join(", ")} must be non-empty strings`);
    if (typeof r.ms !== "number" || !(r.ms >= 0)) problems.push(`${where}: ms must be a number >= 0`);
    if (typeof r.first !== "boolean") problems.push(`${where}: first must be true or false`);
    if (typeof r.parallel !== "number" || !(r.parallel >= 1)) problems.push(`${where}: parallel must be a number >= 1`);
    if (!Number.isInteger(r.cpus) || !((r.cpus as number) >= 1)) problems.push(`${where}: cpus must be an integer >= 1`);
    records.push(r as StepTiming);
  });
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return records;
}

/** What mergeStepTimings wrote for one table key. */
export interface MeasuredStep {
  key: string;
  /** The median, rounded to 0.1 s. */
  seconds: number;
  /** The first creates that went into the median, in the order they started (seconds, unrounded). */
  values: number[];
  /** The first creates left out: more steps ran at once during them, on average, than the machine has CPUs. */
  contended: number[];
  /** The entry it replaced. */
  previous: DurationEntry;
}

export interface MergeOptions {
  /**
   * Steps whose test-host runs are no measurement of the real work (stand-in packages or
   * binaries), by step name or table key, with the reason: their records are ignored and
   * their entries left as they are.
   */
  notMeasured?: Readonly<Record<string, string>>;
  /** A remark per table key, added to its source (e.g. where its packages came from). */
  notes?: Readonly<Record<string, string>>;
}

export interface MergeResult<T extends DurationTable> {
  table: T;
  measured: MeasuredStep[];
  /** Step names whose records were ignored, with the reason. */
  skipped: Record<string, string>;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const oneDecimal = (seconds: number): string => (Math.round(seconds * 10) / 10).toFixed(1);

/**
 * The table with the steps the records measured replaced: for each plain step key (exact name
 * first, then the best glob, as classify finds it), `seconds` is the median of the first creates
 * of the steps it covers, rounded to 0.1 s. Re-runs (first: false) never count. The table times
 * a step in isolation, and every test host shares one machine: a run during which more steps ran
 * at once, on average, than the machine has CPUs is left out, unless every run of the key was
 * such a run (then all count). `source` names the tests, the number of runs, the dates and every value
 * ("*" marks the contended ones). Every other entry, the key order and any other top-level
 * fields stay as they were.
 *
 * A step name without a plain entry in the table is an error naming it, not a new entry: which
 * key a new step gets (exact, a glob, per role) is a decision for whoever adds it, and a step the
 * table does not know is one the simulation would not time either.
 */
export function mergeStepTimings<T extends DurationTable>(table: T, records: readonly StepTiming[], opts: MergeOptions = {}): MergeResult<T> {
  const notMeasured = opts.notMeasured ?? {};
  const plain = partition(table.steps, (key) => key.includes("@"))[1];
  const byKey = new Map<string, StepTiming[]>();
  const skipped: Record<string, string> = {};
  const unknown = new Map<string, StepTiming>();
  for (const r of records) {
    if (!r.first) continue;
    const found = lookup(plain, r.step);
    const reason = notMeasured[r.step] ?? (found ? notMeasured[found[0]] : undefined);
    if (reason !== undefined) {
      skipped[r.step] = reason;
      continue;
    }
    if (!found) {
      if (!unknown.has(r.step)) unknown.set(r.step, r);
      continue;
    }
    byKey.set(found[0], [...(byKey.get(found[0]) ?? []), r]);
  }
  if (unknown.size > 0) {
    const names = [...unknown.values()].map((r) => `"${r.step}" (${r.file}, ${r.host})`);
    throw new Error(
      `step timings for steps without an entry in the table's steps: ${names.join(", ")}; add an entry (an estimate will do) or list the step as not measured`,
    );
  }
  const measured: MeasuredStep[] = [];
  const steps: Record<string, DurationEntry> = {};
  for (const [key, entry] of Object.entries(table.steps)) {
    const runs = byKey.get(key);
    if (!runs) {
      steps[key] = entry;
      continue;
    }
    runs.sort((a, b) => a.date.localeCompare(b.date));
    const isContended = (r: StepTiming) => r.parallel > r.cpus;
    const calm = runs.filter((r) => !isContended(r));
    const counted = calm.length > 0 ? calm : runs;
    const values = counted.map((r) => r.ms / 1000);
    const seconds = Math.round(median(values) * 10) / 10;
    const tests = [...new Set(runs.map((r) => `${r.file} ${r.test.startsWith("(") ? r.test : `'${r.test.split(" > ").pop()}'`}`))];
    const days = [...new Set(runs.map((r) => r.date.slice(0, 10)))].sort();
    const shown = runs.map((r) => `${oneDecimal(r.ms / 1000)}${isContended(r) ? "*" : ""}`);
    const cpus = [...new Set(runs.map((r) => r.cpus))].join("/");
    const contention =
      calm.length === runs.length
        ? ""
        : `; * = more steps ran at once, on average, than the test machine has CPUs (${cpus}), ${calm.length > 0 ? "left out" : "counted as no run was without"}`;
    const note = opts.notes?.[key] ? `; ${opts.notes[key]}` : "";
    const plural = (n: number) => `${n} first-create run${n === 1 ? "" : "s"}`;
    const runsText = counted.length === runs.length ? plural(runs.length) : `${counted.length} of ${plural(runs.length)}`;
    const source = `measured: ${tests.join(", ")}; median of ${runsText} on fresh systemd-nspawn Debian 12 test hosts, ${days.length === 1 ? days[0] : `${days[0]} to ${days[days.length - 1]}`} (${shown.join(", ")} s${contention})${note}`;
    steps[key] = { seconds, source };
    measured.push({ key, seconds, values, contended: counted === runs ? [] : runs.filter(isContended).map((r) => r.ms / 1000), previous: entry });
  }
  return { table: { ...table, steps }, measured, skipped };
}
