/**
 * npm run bench [-- --sizes 3,30,100,300,1000 --reps 3 --timeout 300 --budget 540 --out docs]
 *
 * Measures the program on the prod stack (stacks/Pulumi.prod.yaml) scaled to N workers:
 * evaluation under Pulumi mocks and `npm run render`, each run in a fresh process (peak RSS per
 * run), the graph's shape, and a simulated `pulumi up` over the recorded graph with the step
 * durations of docs/step-durations.json. Writes docs/benchmarks.md and docs/benchmarks.json.
 */
import { spawn } from "node:child_process";
import { projectNodeArgs } from "./bench/node-args";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { loadDurationTable } from "./bench/durations";
import { provisioning } from "./bench/provisioning";
import { renderReport } from "./bench/report";
import type { BenchResult, RunFailure } from "./bench/result";
import { BENCH_STACK } from "./bench/topology";
import type { EvaluationSample, FloorSample, GraphFile, RenderSample } from "./bench/types";

const ROOT = path.resolve(__dirname, "..");
const CHILD = path.join(__dirname, "bench", "child.ts");
/** A size whose single run takes longer than this is not repeated (it has missed its 10 s target by 3x anyway). */
const REPEAT_LIMIT_MS = 30_000;
/** Bare-resource counts for the SDK floor (slope between them). */
const FLOOR_COUNTS = [500, 2500];
/** No run gets less time than this, even past the budget. */
const MIN_TIMEOUT_S = 30;

interface Options {
  sizes: number[];
  reps: number;
  timeoutS: number;
  budgetS: number;
  outDir: string;
  floor: boolean;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { sizes: [3, 30, 100, 300, 1000], reps: 3, timeoutS: 300, budgetS: 540, outDir: path.join(ROOT, "docs"), floor: true };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return v;
    };
    const positive = (text: string, what: string) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got "${text}"`);
      return n;
    };
    switch (argv[i]) {
      case "--sizes":
        opts.sizes = value()
          .split(",")
          .map((s) => positive(s, "--sizes"));
        break;
      case "--reps":
        opts.reps = positive(value(), "--reps");
        break;
      case "--timeout":
        opts.timeoutS = positive(value(), "--timeout");
        break;
      case "--budget":
        opts.budgetS = positive(value(), "--budget");
        break;
      case "--out":
        opts.outDir = path.resolve(value());
        break;
      case "--no-floor":
        opts.floor = false;
        break;
      default:
        throw new Error(`unknown option ${argv[i]} (options: --sizes, --reps, --timeout, --budget, --out, --no-floor)`);
    }
  }
  return opts;
}

type ChildOutcome<T> = { ok: true; sample: T; ms: number } | { ok: false; reason: string; ms: number };

const loadSamples: number[] = [];

/** Runs one measurement in a fresh Node process; kills it (by its own pid) after `timeoutS`. */
function runChild<T>(args: string[], timeoutS: number, scratch: string): Promise<ChildOutcome<T>> {
  const resultFile = path.join(scratch, `result-${args.join("-").replace(/[^A-Za-z0-9-]/g, "_")}-${Date.now()}.json`);
  loadSamples.push(os.loadavg()[0]);
  const started = performance.now();
  return new Promise((resolve) => {
    const nodeArgs = args[0] === "render" ? [] : projectNodeArgs();
    const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", CHILD, args[0], args[1], resultFile, ...args.slice(2)], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutS * 1000);
    child.on("close", (code) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (timedOut) return resolve({ ok: false, reason: `did not finish within ${timeoutS} s`, ms });
      if (code !== 0 || !fs.existsSync(resultFile)) return resolve({ ok: false, reason: `exited with ${code}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`, ms });
      const sample = JSON.parse(fs.readFileSync(resultFile, "utf8")) as T;
      fs.rmSync(resultFile, { force: true });
      resolve({ ok: true, sample, ms });
    });
  });
}

/** `npm run bench:engine`'s section of an existing benchmarks.json: `npm run bench` keeps it. */
function previousRealEngine(file: string): BenchResult["realEngine"] {
  if (!fs.existsSync(file)) return undefined;
  return (JSON.parse(fs.readFileSync(file, "utf8")) as Partial<BenchResult>).realEngine;
}

async function main(argv: string[]): Promise<number> {
  const opts = parseArgs(argv);
  const table = loadDurationTable();
  const benchStart = performance.now();
  const loadAtStart = os.loadavg()[0];
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "kop-bench-"));
  const failures: RunFailure[] = [];
  const evaluation = new Map<number, EvaluationSample[]>();
  const render = new Map<number, RenderSample[]>();
  const skipped = new Map<string, string>();
  const lastMs = new Map<string, number>();
  const graphs = new Map<number, GraphFile>();
  const floor: FloorSample[] = [];
  const elapsedS = () => (performance.now() - benchStart) / 1000;
  const log = (text: string) => console.error(`[bench ${elapsedS().toFixed(0).padStart(4)} s] ${text}`);

  const measure = async <T>(kind: string, size: number, rep: number, extra: string[] = []): Promise<T | undefined> => {
    const key = `${kind}:${size}`;
    if (skipped.has(key)) return undefined;
    if (rep > 1 && elapsedS() + (lastMs.get(key) ?? 0) / 1000 > opts.budgetS) {
      skipped.set(key, `repetitions after ${rep - 1} skipped: the ${opts.budgetS} s budget would be exceeded`);
      return undefined;
    }
    // The first run of each size always happens; its time limit shrinks so the whole bench stays within the budget.
    const timeoutS = Math.min(opts.timeoutS, Math.max(MIN_TIMEOUT_S, opts.budgetS - elapsedS()));
    const outcome = await runChild<T>([kind, String(size), ...extra], timeoutS, scratch);
    lastMs.set(key, outcome.ms);
    if (!outcome.ok) {
      failures.push({ kind, size, reason: outcome.reason });
      skipped.set(key, `run ${rep} failed: ${outcome.reason}`);
      log(`${kind} N=${size} run ${rep}: FAILED ${outcome.reason}`);
      return undefined;
    }
    log(`${kind} N=${size} run ${rep}: ${(outcome.ms / 1000).toFixed(1)} s`);
    if (kind === "evaluate" && (outcome.sample as EvaluationSample).wallMs > REPEAT_LIMIT_MS) {
      skipped.set(key, `not repeated after run ${rep}: it took ${((outcome.sample as EvaluationSample).wallMs / 1000).toFixed(0)} s, over ${REPEAT_LIMIT_MS / 1000} s`);
    }
    return outcome.sample;
  };

  try {
    for (let rep = 1; rep <= opts.reps; rep++) {
      for (const n of opts.sizes) {
        const graphFile = path.join(scratch, `graph-${n}.json`);
        const e = await measure<EvaluationSample>("evaluate", n, rep, graphs.has(n) ? [] : [graphFile]);
        if (e) evaluation.set(n, [...(evaluation.get(n) ?? []), e]);
        if (!graphs.has(n) && fs.existsSync(graphFile)) graphs.set(n, JSON.parse(fs.readFileSync(graphFile, "utf8")) as GraphFile);
        const r = await measure<RenderSample>("render", n, rep);
        if (r) render.set(n, [...(render.get(n) ?? []), r]);
      }
      if (rep === 1 && opts.floor) {
        for (const kind of ["sdk-floor", "sdk-floor-quiet"]) {
          for (const count of FLOOR_COUNTS) {
            const f = await measure<FloorSample>(kind, count, 1);
            if (f) floor.push(f);
          }
        }
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }

  const result: BenchResult = {
    date: new Date().toISOString(),
    command: `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}`,
    machine: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
      programNodeArgs: projectNodeArgs().join(" "),
      platform: `${os.type()} ${os.release()}`,
      loadAtStart,
      loadMeanDuringRuns: loadSamples.reduce((a, b) => a + b, 0) / Math.max(1, loadSamples.length),
      loadAtEnd: os.loadavg()[0],
    },
    benchSeconds: elapsedS(),
    stack: BENCH_STACK,
    evaluation: opts.sizes.filter((n) => evaluation.has(n)).map((n) => ({ workers: n, samples: evaluation.get(n)!, skippedRepeats: skipped.get(`evaluate:${n}`) })),
    render: opts.sizes.filter((n) => render.has(n)).map((n) => ({ workers: n, samples: render.get(n)!, skippedRepeats: skipped.get(`render:${n}`) })),
    shape: [...graphs.values()].map((g) => ({ workers: g.workers, ...g.shape, parts: g.parts })),
    provisioning: [...graphs.values()].map((g) => provisioning(g.workers, g.tasks, table, g.roles)),
    floor,
    durations: table,
    failures,
    realEngine: previousRealEngine(path.join(opts.outDir, "benchmarks.json")),
  };
  fs.mkdirSync(opts.outDir, { recursive: true });
  fs.writeFileSync(path.join(opts.outDir, "benchmarks.json"), JSON.stringify(result, null, 2) + "\n");
  fs.writeFileSync(path.join(opts.outDir, "benchmarks.md"), renderReport(result));
  log(`wrote ${path.relative(ROOT, path.join(opts.outDir, "benchmarks.md"))} and benchmarks.json`);
  for (const p of result.provisioning) {
    const unknown = Object.entries(p.unknown);
    if (unknown.length) log(`N=${p.workers}: no duration for ${unknown.map(([k, v]) => `${k} (${v})`).join(", ")}: add them to docs/step-durations.json`);
  }
  // A run that is too slow is a result (reported); a run that crashed is an error.
  return failures.some((f) => f.reason.startsWith("exited")) ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 2;
  },
);
