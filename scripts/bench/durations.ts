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
