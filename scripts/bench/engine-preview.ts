/**
 * npm run bench:engine [-- --workers 10,100,1000 --cap 900 --sample-ms 200 --env NAME=VALUE --out docs --dry-run --keep [-- PREVIEW ARGS]]
 * npm run bench:engine -- --render-only   (benchmarks.md again from benchmarks.json, e.g. after editing engine-notes.md)
 *
 * The real engine's cost: `pulumi preview` of the prod stack (stacks/Pulumi.prod.yaml) resized to
 * N workers, with the real CLI and kubernetes plugin of the toolchain (scripts/install-pulumi.sh)
 * and the engine tier's TEST DOUBLE command and random plugins (test/engine/doubles), in a
 * throwaway project on a file backend. The program is index.ts unchanged. Every process of the
 * preview's tree is sampled from /proc; a run past the cap is stopped (every process of its tree,
 * by pid) and reported as stopped. Writes the `realEngine` section of docs/benchmarks.json and
 * re-renders docs/benchmarks.md. 100 and 1000 workers: run under `flock /tmp/kop-hosts.lock`.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { installDoubles, linkRealPlugin } from "../../test/engine/doubles/plugins";
import { ensureToolchain, PulumiProject, type Toolchain } from "../../test/engine/pulumi-cli";
import { descendants, parseEngineArgs, type EngineOptions, previewSummary, treePeaks, hostInputs, mergeEngineResults, type HostInputs, type EngineResult, type EngineRun, type ProcEntry, type ProcSample } from "./engine";
import { projectNodeArgs } from "./node-args";
import { renderReport } from "./report";
import type { BenchResult } from "./result";
import { BENCH_STACK, sectionWithWorkers, stackSection } from "./topology";

const ROOT = path.resolve(__dirname, "..", "..");
const PROGRAM = path.join(ROOT, "index.ts");
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

const log = (msg: string) => console.error(`[bench:engine ${new Date().toISOString().slice(11, 19)}] ${msg}`);

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined; // the process ended between listing and reading
  }
}

/** Every live process's parent, utime+stime (s); from /proc/PID/stat. */
function processTable(): Map<number, { ppid: number; cpuS: number }> {
  const out = new Map<number, { ppid: number; cpuS: number }>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    if (!stat) continue;
    // Fields after the command name (which may hold spaces and parentheses): state ppid ...
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.set(Number(name), { ppid: Number(f[1]), cpuS: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS });
  }
  return out;
}

function kib(status: string, key: string): number {
  const m = status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** One sample of the tree under `root`. */
function sampleTree(root: number, atMs: number): ProcSample {
  const table = processTable();
  const pids = descendants(root, new Map([...table].map(([pid, v]) => [pid, v.ppid])));
  const procs: ProcEntry[] = [];
  for (const pid of pids) {
    const status = read(`/proc/${pid}/status`);
    const cmdline = read(`/proc/${pid}/cmdline`);
    if (!status || cmdline === undefined) continue;
    procs.push({ pid, ppid: table.get(pid)!.ppid, argv: cmdline.split("\0").filter(Boolean), rssBytes: kib(status, "VmRSS"), hwmBytes: kib(status, "VmHWM"), cpuS: table.get(pid)!.cpuS });
  }
  return { atMs, procs };
}

function loadAverage(): number {
  return os.loadavg()[0];
}

/** The last worker's planned inputs, from an extra `pulumi preview --json` of the same project (not timed). */
async function workerInputs(project: PulumiProject, workers: number): Promise<HostInputs> {
  const section = sectionWithWorkers(stackSection(), workers);
  const last = (section.hosts as Array<{ name: string; roles: string[] }>).filter((h) => h.roles.includes("worker")).pop();
  if (!last) throw new Error("the stack has no worker");
  const preview = await project.expect(["preview", "--json"], 0, { timeoutMs: 15 * 60_000 });
  return hostInputs(preview.stdout, last.name, workers);
}

/** A throwaway SSH key for the run: the prod stack reads it as the secret cluster:sshPrivateKey. */
function throwawayKey(dir: string): string {
  const file = path.join(dir, "bench-ssh-key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kop-bench-engine", "-f", file]);
  return fs.readFileSync(file, "utf8");
}

async function previewRun(toolchain: Toolchain, workers: number, opts: EngineOptions, command: string, wantInputs: boolean): Promise<{ run: EngineRun; plugins: Record<string, string>; inputs?: HostInputs }> {
  const { capS, sampleMs, keep, previewArgs } = opts;
  const project = new PulumiProject(toolchain, { name: "kubeadm-on-pulumi", program: PROGRAM, nodeargs: projectNodeArgs().join(" "), env: opts.env });
  try {
    await project.expect(["login", project.backend]);
    await project.expect(["stack", "init", BENCH_STACK, "--secrets-provider", "passphrase"]);
    const doubles = await installDoubles(project);
    const kubernetes = linkRealPlugin(toolchain, project, "kubernetes");
    await project.expect(["config", "set", "--secret", "cluster:sshPrivateKey"], 0, { stdin: throwawayKey(project.dir) });
    const file = path.join(project.dir, `Pulumi.${BENCH_STACK}.yaml`);
    const stackFile = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    for (const [k, v] of Object.entries(sectionWithWorkers(stackSection(), workers))) stackFile.config[`cluster:${k}`] = v;
    fs.writeFileSync(file, stringify(stackFile));

    const samples: ProcSample[] = [];
    const loadAtStart = loadAverage();
    let root: number | undefined;
    let stopped = false;
    const started = Date.now();
    const tick = () => {
      if (root === undefined) return;
      const s = sampleTree(root, Date.now() - started);
      if (s.procs.length) samples.push(s);
      if (!stopped && Date.now() - started > capS * 1000) {
        stopped = true;
        log(`${workers} workers: still running at ${capS} s, stopping its ${s.procs.length} processes`);
        for (const p of s.procs) {
          try {
            process.kill(p.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
    };
    const timer = setInterval(tick, sampleMs);
    log(`${workers} workers: pulumi preview in ${project.dir}`);
    const result = await project.run(["preview", "--suppress-progress", ...previewArgs], {
      timeoutMs: (capS + 60) * 1000,
      onSpawn: (pid) => {
        root = pid;
      },
    });
    clearInterval(timer);
    const wallMs = stopped ? capS * 1000 : result.ms;
    const summary = previewSummary(result.stdout);
    const registered = result.stdout.split("\n").filter((l) => /^\s+[+~\-]\s+\S+\s+\S+\s+(create|update|delete|replace)\b/.test(l)).length;
    const outcome = stopped ? "stopped" : result.code === 0 ? "done" : "failed";
    fs.writeFileSync(path.join(project.dir, "preview.out"), result.stdout + "\n--- stderr\n" + result.stderr);
    const run: EngineRun = {
      workers,
      command,
      date: new Date(started).toISOString(),
      env: opts.env,
      capS,
      loadAtStart,
      loadAtEnd: loadAverage(),
      outcome,
      wallMs,
      summary,
      registered,
      peaks: treePeaks(samples),
      ...(outcome === "failed" ? { error: (result.stdout + result.stderr).trim().split("\n").slice(-15).join("\n") } : {}),
    };
    const inputs = wantInputs ? await workerInputs(project, workers) : undefined;
    return { run, plugins: { ...doubles, kubernetes }, inputs };
  } finally {
    if (keep) log(`kept ${project.dir}`);
    else project.remove();
  }
}

async function main(): Promise<void> {
  const opts = parseEngineArgs(process.argv.slice(2), path.join(ROOT, "docs"));
  const jsonFile = path.join(opts.outDir, "benchmarks.json");
  if (opts.renderOnly) {
    fs.writeFileSync(path.join(opts.outDir, "benchmarks.md"), renderReport(JSON.parse(fs.readFileSync(jsonFile, "utf8")) as BenchResult));
    log(`rendered benchmarks.md again from ${path.relative(ROOT, jsonFile)}`);
    return;
  }
  const toolchain = await ensureToolchain(["kubernetes"]);
  const command = `npm run bench:engine -- ${process.argv.slice(2).join(" ")}`.trim().replace(/ --$/, "");
  const runs: EngineRun[] = [];
  let plugins: Record<string, string> = {};
  let inputs: HostInputs | undefined;
  for (const workers of opts.workers) {
    const r = await previewRun(toolchain, workers, opts, command, workers === Math.min(...opts.workers) && Object.keys(opts.env).length === 0);
    inputs ??= r.inputs;
    plugins = r.plugins;
    runs.push(r.run);
    const top = r.run.peaks.processes.slice(0, 4).map((p) => `${p.role} ${Math.round(p.peakBytes / 2 ** 20)} MiB`);
    log(`${workers} workers: ${r.run.outcome}, ${(r.run.wallMs / 1000).toFixed(1)} s, create ${r.run.summary.create ?? "?"} (${r.run.registered} lines), sum ${Math.round(r.run.peaks.peakSumBytes / 2 ** 20)} MiB; ${top.join(", ")}`);
  }
  const result: EngineResult = { pulumi: toolchain.version, plugins, runs, ...(inputs ? { workerInputs: inputs } : {}), addOneWorker: { measured: false, why: ADD_ONE_WORKER } };
  if (opts.dryRun) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const bench = JSON.parse(fs.readFileSync(jsonFile, "utf8")) as BenchResult;
  bench.realEngine = mergeEngineResults(bench.realEngine, result);
  fs.writeFileSync(jsonFile, JSON.stringify(bench, null, 2) + "\n");
  fs.writeFileSync(path.join(opts.outDir, "benchmarks.md"), renderReport(bench));
  log(`wrote the realEngine section of ${path.relative(ROOT, jsonFile)} and benchmarks.md`);
}

/** Why the add-one-worker preview is not measured (docs/benchmarks.md prints it). */
const ADD_ONE_WORKER =
  "It needs a stack whose state holds N workers' resources as a `pulumi up` leaves them, and an `up` runs every step over SSH on real hosts: there are no 100 or 1000 hosts here. A preview of N+1 workers against an empty state is the same create-everything preview as above, not an add-one; a state made up from a preview's planned inputs would hold no provider outputs (the command double's stdout, the kubernetes objects' live fields), so the engine's diff against it would not be the diff a user gets.";

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
