/**
 * Pure parts of `npm run bench:engine` (scripts/bench/engine-preview.ts): its options, what a
 * process of the preview's tree is, the peaks of /proc samples, the results' table.
 */

export interface EngineOptions {
  workers: number[];
  /** A run still going after this many seconds is stopped and reported as stopped. */
  capS: number;
  /** Milliseconds between two /proc samples. */
  sampleMs: number;
  /** Where benchmarks.json and benchmarks.md are. */
  outDir: string;
  /** Print the results without writing them. */
  dryRun: boolean;
  /** Measure nothing: render benchmarks.md again from benchmarks.json (after editing engine-notes.md). */
  renderOnly: boolean;
  /** Keep each throwaway project directory (its state, logs and profiles). */
  keep: boolean;
  /** Environment variables for every pulumi command (`--env PULUMI_SKIP_CHECKPOINTS=true`). */
  env: Record<string, string>;
  /** Extra arguments for `pulumi preview` (e.g. `--profiling FILE`). */
  previewArgs: string[];
}

export const DEFAULT_ENGINE_WORKERS = [10, 100, 1000];

export function parseEngineArgs(argv: string[], outDir: string): EngineOptions {
  const opts: EngineOptions = { workers: DEFAULT_ENGINE_WORKERS, capS: 900, sampleMs: 200, outDir, dryRun: false, renderOnly: false, keep: false, env: {}, previewArgs: [] };
  const positive = (text: string | undefined, what: string) => {
    const n = Number(text);
    if (text === undefined || text === "" || !Number.isInteger(n) || n < 1) throw new Error(`${what} needs a positive integer, got ${text === undefined ? "nothing" : `"${text}"`}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case "--workers": {
        const text = argv[++i];
        if (text === undefined) throw new Error("--workers needs a comma-separated list of worker counts, e.g. --workers 10,100,1000");
        opts.workers = text.split(",").map((w) => positive(w.trim(), "--workers"));
        break;
      }
      case "--cap":
        opts.capS = positive(argv[++i], "--cap (seconds)");
        break;
      case "--sample-ms":
        opts.sampleMs = positive(argv[++i], "--sample-ms");
        break;
      case "--out": {
        const dir = argv[++i];
        if (!dir) throw new Error("--out needs a directory");
        opts.outDir = dir;
        break;
      }
      case "--env": {
        const pair = argv[++i] ?? "";
        const m = pair.match(/^([A-Z_][A-Z0-9_]*)=(.*)$/);
        if (!m) throw new Error(`--env needs NAME=VALUE, got "${pair}"`);
        opts.env[m[1]] = m[2];
        break;
      }
      case "--dry-run":
        opts.dryRun = true;
        break;
      case "--render-only":
        opts.renderOnly = true;
        break;
      case "--keep":
        opts.keep = true;
        break;
      case "--":
        opts.previewArgs = argv.slice(i + 1);
        i = argv.length;
        break;
      default:
        throw new Error(`unknown option ${arg} (options: --workers 10,100,1000 --cap SECONDS --sample-ms MS --env NAME=VALUE --out DIR --dry-run --render-only --keep [-- PREVIEW ARGS])`);
    }
  }
  return opts;
}

/** One process of the preview's tree as one /proc sample saw it. */
export interface ProcEntry {
  pid: number;
  ppid: number;
  /** /proc/PID/cmdline, split at NULs. */
  argv: string[];
  /** VmRSS and VmHWM (the kernel's own peak of the resident set) in bytes. */
  rssBytes: number;
  hwmBytes: number;
  /** utime + stime in seconds. */
  cpuS: number;
}

export interface ProcSample {
  /** Milliseconds since the preview started. */
  atMs: number;
  procs: ProcEntry[];
}

/**
 * What a process of a `pulumi preview` tree is, from its command line: the CLI's engine, the
 * nodejs language host, the program (node running the SDK's run entry point), a resource
 * plugin (named after `pulumi-resource-NAME`; the doubles are node under a shell wrapper whose
 * script names them), or the node behind the dynamic-provider shim.
 */
export function processRole(argv: string[]): string {
  const base = (s: string) => s.split("/").pop() ?? s;
  const exe = base(argv[0] ?? "");
  if (exe === "pulumi") return "engine (pulumi)";
  if (exe === "pulumi-language-nodejs") return "language host";
  const plugin = argv.map(base).find((a) => a.startsWith("pulumi-resource-"));
  if (plugin) return `provider ${plugin.slice("pulumi-resource-".length)}`;
  const joined = argv.join(" ");
  if (/@pulumi\/pulumi\/cmd\/run(\/|\s|$)/.test(joined) || /@pulumi\/pulumi\/cmd\/run$/.test(joined)) return "program (node)";
  if (/@pulumi\/pulumi\/cmd\/dynamic-provider/.test(joined)) return "provider pulumi-nodejs (dynamic, node)";
  const serve = joined.match(/doubles\/serve\.ts (\w+)/);
  if (serve) return `provider ${serve[1]} (TEST DOUBLE, node)`;
  return `other: ${exe}`;
}

export interface ProcessPeak {
  pid: number;
  role: string;
  /** Its command line, cut at 160 characters. */
  command: string;
  /** The highest of the sampled resident sets and the last VmHWM seen. */
  peakBytes: number;
  cpuS: number;
}

export interface TreePeaks {
  processes: ProcessPeak[];
  /** The highest sum of resident sets over one sample, and when. */
  peakSumBytes: number;
  peakSumAtMs: number;
  samples: number;
}

const commandLine = (argv: string[]) => argv.join(" ").slice(0, 160);

/** The peak of each process and of their sum over /proc samples of one tree. */
export function treePeaks(samples: ProcSample[]): TreePeaks {
  const byPid = new Map<number, ProcessPeak>();
  let peakSumBytes = 0;
  let peakSumAtMs = 0;
  for (const s of samples) {
    let sum = 0;
    for (const p of s.procs) {
      sum += p.rssBytes;
      const seen = byPid.get(p.pid);
      const peak = Math.max(p.rssBytes, p.hwmBytes);
      if (!seen) byPid.set(p.pid, { pid: p.pid, role: processRole(p.argv), command: commandLine(p.argv), peakBytes: peak, cpuS: p.cpuS });
      else {
        seen.peakBytes = Math.max(seen.peakBytes, peak);
        seen.cpuS = Math.max(seen.cpuS, p.cpuS);
        // A plugin's shell wrapper exec's node: the same pid, the command line of what runs now
        // (an exiting process shows an empty one).
        if (p.argv.length > 0 && seen.command !== commandLine(p.argv)) {
          seen.role = processRole(p.argv);
          seen.command = commandLine(p.argv);
        }
      }
    }
    if (sum > peakSumBytes) {
      peakSumBytes = sum;
      peakSumAtMs = s.atMs;
    }
  }
  const processes = [...byPid.values()].sort((a, b) => b.peakBytes - a.peakBytes);
  return { processes, peakSumBytes, peakSumAtMs, samples: samples.length };
}

/** The pids of `root` and everything under it, in one sample's parent links. */
export function descendants(root: number, parents: Map<number, number>): Set<number> {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const out = new Set<number>();
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    if (out.has(pid) || !parents.has(pid)) continue;
    out.add(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** The `Resources:` summary of a non-JSON `pulumi preview`: count per operation ("create", "unchanged", ...). */
export function previewSummary(stdout: string): Record<string, number> {
  const at = stdout.lastIndexOf("\nResources:");
  if (at < 0) return {};
  const out: Record<string, number> = {};
  for (const line of stdout.slice(at).split("\n").slice(2)) {
    const m = line.match(/^\s+[+~\-±]*\s*(\d+)\s+(to create|to update|to delete|to replace|unchanged|to create-replacement|to delete-replaced)\s*$/);
    if (m) out[m[2].replace(/^to /, "")] = Number(m[1]);
    else if (line.trim() === "" && Object.keys(out).length) break;
  }
  return out;
}

/** The planned inputs of one host's resources in a `pulumi preview --json`: a lower bound of what its state will hold. */
export interface HostInputs {
  workers: number;
  host: string;
  /** JSON bytes of each resource's inputs, by the URN's last part. */
  byResource: Record<string, number>;
  bytes: number;
}

/** The inputs a `pulumi preview --json` plans for the resources named `host/...` (the program names a host's steps so). */
export function hostInputs(previewJson: string, host: string, workers: number): HostInputs {
  const preview = JSON.parse(previewJson) as { steps?: Array<{ urn: string; newState?: { inputs?: unknown } }> };
  const byResource: Record<string, number> = {};
  for (const step of preview.steps ?? []) {
    const name = step.urn.split("::").pop() ?? "";
    if (!name.startsWith(`${host}/`) || !step.newState) continue;
    byResource[name] = Buffer.byteLength(JSON.stringify(step.newState.inputs ?? {}));
  }
  const bytes = Object.values(byResource).reduce((a, b) => a + b, 0);
  if (bytes === 0) throw new Error(`the preview plans no resource named ${host}/...`);
  return { workers, host, byResource, bytes };
}

export interface EngineRun {
  workers: number;
  /** The `npm run bench:engine` command that measured it, when, and its settings. */
  command: string;
  date: string;
  /** Environment variables given with --env (none: pulumi's defaults, what users get). */
  env: Record<string, string>;
  capS: number;
  /** 1-minute load average when the run started and ended. */
  loadAtStart: number;
  loadAtEnd: number;
  /** "done": the preview exited 0; "stopped": still running at the cap; "failed": exited non-zero. */
  outcome: "done" | "stopped" | "failed";
  wallMs: number;
  /** The summary's counts (empty when the preview did not finish). */
  summary: Record<string, number>;
  /** Resources the engine had reported when the run ended (lines of the progress output). */
  registered: number;
  peaks: TreePeaks;
  /** For "failed": the last lines of the output. */
  error?: string;
}

/** The `realEngine` section of docs/benchmarks.json. */
export interface EngineResult {
  pulumi: string;
  plugins: Record<string, string>;
  runs: EngineRun[];
  /** One worker's planned inputs at the smallest size run (from an extra, unmeasured `pulumi preview --json`). */
  workerInputs?: HostInputs;
  addOneWorker: { measured: false; why: string };
}

/** A run's --env settings as text ("" for pulumi's defaults). */
export const settings = (r: EngineRun) =>
  Object.entries(r.env)
    .sort()
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");

/** An earlier section with a new bench's runs: a new run replaces the earlier one of the same size and settings. */
export function mergeEngineResults(previous: EngineResult | undefined, next: EngineResult): EngineResult {
  const key = (r: EngineRun) => `${r.workers} ${settings(r)}`;
  const fresh = new Set(next.runs.map(key));
  const runs = [...(previous?.runs ?? []).filter((r) => !fresh.has(key(r))), ...next.runs];
  runs.sort((a, b) => settings(a).localeCompare(settings(b)) || a.workers - b.workers);
  const workerInputs = next.workerInputs ?? previous?.workerInputs;
  return { ...next, runs, ...(workerInputs ? { workerInputs } : {}) };
}

export const ENGINE_TARGETS = { workers: 1000, wallS: 60, totalBytes: 2 * 1024 ** 3, stateBytesPerWorker: 20 * 1000 };

const MIB = 1024 ** 2;
const gib = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;
const mib = (b: number) => (b >= 1024 ** 3 ? gib(b) : `${Math.round(b / MIB)} MiB`);
const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
const row = (cells: Array<string | number>) => `| ${cells.join(" | ")} |`;

/** The table's process columns: each role goes to the first column whose prefix it starts with; the rest to "other". */
export const ENGINE_COLUMNS: Array<{ title: string; prefix: string }> = [
  { title: "engine (pulumi)", prefix: "engine" },
  { title: "language host", prefix: "language host" },
  { title: "program (node)", prefix: "program" },
  { title: "kubernetes plugin", prefix: "provider kubernetes" },
  { title: "command double", prefix: "provider command" },
  { title: "random double", prefix: "provider random" },
  { title: "dynamic providers (node)", prefix: "provider pulumi-nodejs (dynamic" },
];
const OTHER = "other (wrappers, helpers)";

/** Per column, the largest single process of the run (a column can have several processes). */
export function peaksByColumn(peaks: TreePeaks): Map<string, ProcessPeak> {
  const out = new Map<string, ProcessPeak>();
  for (const p of peaks.processes) {
    const column = ENGINE_COLUMNS.find((c) => p.role.startsWith(c.prefix))?.title ?? OTHER;
    const seen = out.get(column);
    if (!seen || p.peakBytes > seen.peakBytes) out.set(column, p);
  }
  return out;
}

export interface EngineVerdict {
  target: string;
  result: string;
  met: boolean | undefined;
}

export function engineVerdicts(r: EngineResult): EngineVerdict[] {
  const t = ENGINE_TARGETS;
  const run = r.runs.find((x) => x.workers === t.workers && Object.keys(x.env).length === 0);
  const notRun = `not run at ${t.workers} workers`;
  const wall = !run ? notRun : run.outcome === "done" ? secs(run.wallMs) : run.outcome === "stopped" ? `stopped at ${secs(run.wallMs)}, unfinished` : `failed after ${secs(run.wallMs)}`;
  const memory = !run ? notRun : `${run.outcome === "done" ? "" : "at least "}${gib(run.peaks.peakSumBytes)} (sum of the tree's resident sets)`;
  return [
    { target: `${t.workers} workers previewed in at most ${t.wallS} s`, result: wall, met: run ? run.outcome === "done" && run.wallMs <= t.wallS * 1000 : undefined },
    { target: `... using at most ${gib(t.totalBytes)} across all processes`, result: memory, met: run ? (run.outcome === "done" || run.peaks.peakSumBytes > t.totalBytes ? run.peaks.peakSumBytes <= t.totalBytes : undefined) : undefined },
    stateVerdict(r.workerInputs),
    { target: `adding one worker to a ${t.workers}-worker stack previews in at most ${t.wallS} s, planning only its resources`, result: "not measured: no stack holds 1000 workers' state here (below)", met: undefined },
  ];
}

/**
 * The state target, judged on a lower bound: the state keeps each resource's inputs (and its
 * outputs beside them), so planned inputs above the target miss it; below it, nothing is known.
 */
function stateVerdict(w: HostInputs | undefined): EngineVerdict {
  const target = `state at most ${ENGINE_TARGETS.stateBytesPerWorker / 1000} KB per worker`;
  if (!w) return { target, result: "not measured: a state needs a real `pulumi up`", met: undefined };
  const kb = (b: number) => `${(b / 1000).toFixed(1)} KB`;
  const parts = Object.entries(w.byResource)
    .sort((a, b) => b[1] - a[1])
    .map(([name, b]) => `${name.slice(w.host.length + 1)} ${kb(b)}`)
    .join(", ");
  const result = `a worker's planned inputs alone are ${kb(w.bytes)} (${w.host} at ${w.workers} workers: ${parts}); the state holds them and the outputs beside them; one worker's state after a real \`up\` is measured by the engine tier (below)`;
  return { target, result, met: w.bytes > ENGINE_TARGETS.stateBytesPerWorker ? false : undefined };
}

/** The "Real engine" section of docs/benchmarks.md. */
export function renderEngineSection(r: EngineResult): string[] {
  const out: string[] = [];
  const cap = [...new Set(r.runs.map((x) => x.capS))].join(" or ");
  out.push(
    "## Real engine: `pulumi preview` of the prod topology",
    "",
    `pulumi ${r.pulumi}, the real kubernetes plugin ${r.plugins.kubernetes ?? "?"}, and the TEST DOUBLE command ${r.plugins.command ?? "?"} and random ${r.plugins.random ?? "?"} plugins of the engine tier (docs/engine-tests.md), in a throwaway project on a file backend with an empty state (every resource is a create); the program is index.ts unchanged, the prod stack resized to N workers as above, a throwaway SSH key as its secret config. Each process of the preview's tree is read from /proc every 200 ms; a process column shows the largest process of that kind: its peak resident set (the highest sampled, or the kernel's VmHWM if higher) and, in brackets, its CPU time (user + system); "all processes" is the highest sum over one sample. A run still going at ${cap} s is stopped (every process of its tree) and shown as stopped with what it had reached, never as a result. Rows with settings ran with those environment variables (\`--env\`); the others with pulumi's defaults, what users get.`,
    "",
    "### Targets",
    "",
    row(["target", "result", "met"]),
    row(["---", "---", "---"]),
  );
  for (const v of engineVerdicts(r)) out.push(row([v.target, v.result, v.met === undefined ? "not measured" : v.met ? "yes" : "**no**"]));
  out.push("");
  const commands = [...new Set(r.runs.map((x) => x.command))];
  const columns = [...ENGINE_COLUMNS.map((c) => c.title), OTHER].filter((c) => r.runs.some((x) => peaksByColumn(x.peaks).has(c)));
  out.push(
    row(["workers", "settings", "outcome", "resources to create", "wall", "all processes (peak of the sum)", ...columns, "run"]),
    row(["---:", "---", "---", "---:", "---:", "---:", ...columns.map(() => "---:"), "---"]),
  );
  for (const x of r.runs) {
    const rs = peaksByColumn(x.peaks);
    const outcome = x.outcome === "done" ? "done" : x.outcome === "stopped" ? `**stopped at ${secs(x.wallMs)}**` : `**failed**`;
    const create = x.outcome === "done" ? String(x.summary.create ?? 0) : `(${x.registered} reported)`;
    out.push(
      row([
        x.workers,
        settings(x) ? `\`${settings(x)}\`` : "defaults",
        outcome,
        create,
        x.outcome === "done" ? secs(x.wallMs) : `(${secs(x.wallMs)})`,
        mib(x.peaks.peakSumBytes),
        ...columns.map((column) => {
          const p = rs.get(column);
          return p ? `${mib(p.peakBytes)} (${p.cpuS.toFixed(0)} s)` : "–";
        }),
        `[${commands.indexOf(x.command) + 1}]`,
      ]),
    );
  }
  out.push("");
  for (const [i, c] of commands.entries()) {
    const runs = r.runs.filter((x) => x.command === c);
    const load = runs.map((x) => `${x.loadAtStart.toFixed(1)}-${x.loadAtEnd.toFixed(1)}`).join(", ");
    out.push(`${i + 1}. \`${c}\` on ${runs[0].date.slice(0, 10)} (${runs[0].date.slice(11, 16)} UTC), cap ${runs[0].capS} s; 1-minute load average at the start and end of each run: ${load} (2 cores).`);
  }
  for (const x of r.runs.filter((y) => y.error)) out.push("", `- ${x.workers} workers failed: ${x.error}`);
  out.push("", `**Adding one worker to an N-worker stack: not measured.** ${r.addOneWorker.why}`, "");
  return out;
}
