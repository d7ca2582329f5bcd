import { describe, expect, it } from "vitest";
import { descendants, engineVerdicts, hostInputs, mergeEngineResults, parseEngineArgs, previewSummary, processRole, renderEngineSection, settings, treePeaks, type EngineResult, type EngineRun, type ProcSample } from "../../scripts/bench/engine";

const MiB = 1024 ** 2;
// Command lines as /proc showed them during `npm run bench:engine -- --workers 10` (pulumi v3.276.0).
const ARGV = {
  engine: ["pulumi", "preview", "--suppress-progress", "--non-interactive"],
  host: ["/var/cache/kubeadm-on-pulumi/toolchain/bin/pulumi-language-nodejs", "127.0.0.1:35063"],
  resolve: ["/usr/bin/node", "-e", "console.log(require.resolve('@pulumi/pulumi/cmd/run'));"],
  program: ["/usr/bin/node", "--max-semi-space-size=32", "/work/x/node_modules/@pulumi/pulumi/cmd/run/index.js", "--monitor", "127.0.0.1:41427", "--engine", "127.0.0.1:35063", "--sync", "/tmp/pulumi-node-pipes", "--organization", "organization", "/tmp/kop-engine-iEIqvc", "../../work/x/index.ts"],
  kubernetes: ["/tmp/kop-engine-iEIqvc/pulumi-home/plugins/resource-kubernetes-v4.25.0/pulumi-resource-kubernetes", "127.0.0.1:35063"],
  commandWrapper: ["/bin/sh", "/tmp/kop-engine-iEIqvc/pulumi-home/plugins/resource-command-v1.2.1/pulumi-resource-command", "127.0.0.1:35063"],
  commandDouble: ["node", "--require", "/work/x/node_modules/tsx/dist/cjs/index.cjs", "/work/x/test/engine/doubles/serve.ts", "command", "127.0.0.1:35063"],
  shim: ["/bin/sh", "/var/cache/kubeadm-on-pulumi/toolchain/bin/pulumi-resource-pulumi-nodejs", "127.0.0.1:35063"],
  dynamic: ["node", "/work/x/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js", "127.0.0.1:35063"],
};

describe("bench:engine options", () => {
  it("defaults to 10, 100 and 1000 workers, a 900 s cap and 200 ms samples", () => {
    expect(parseEngineArgs([], "/d")).toEqual({ workers: [10, 100, 1000], capS: 900, sampleMs: 200, outDir: "/d", dryRun: false, renderOnly: false, keep: false, env: {}, previewArgs: [] });
  });

  it("reads a worker list, the cap, and passes what follows -- to pulumi preview", () => {
    const o = parseEngineArgs(["--workers", "10, 100,1000", "--cap", "600", "--keep", "--dry-run", "--env", "PULUMI_SKIP_CHECKPOINTS=true", "--", "--profiling", "/tmp/p"], "/d");
    expect(o).toMatchObject({ workers: [10, 100, 1000], capS: 600, keep: true, dryRun: true, env: { PULUMI_SKIP_CHECKPOINTS: "true" }, previewArgs: ["--profiling", "/tmp/p"] });
    expect(parseEngineArgs(["--render-only"], "/d").renderOnly).toBe(true);
  });

  it("names the option and the bad value", () => {
    expect(() => parseEngineArgs(["--workers", "10,ten"], "/d")).toThrow('--workers needs a positive integer, got "ten"');
    expect(() => parseEngineArgs(["--workers", "0"], "/d")).toThrow('--workers needs a positive integer, got "0"');
    expect(() => parseEngineArgs(["--workers"], "/d")).toThrow("--workers needs a comma-separated list");
    expect(() => parseEngineArgs(["--cap"], "/d")).toThrow("--cap (seconds) needs a positive integer, got nothing");
    expect(() => parseEngineArgs(["--sizes", "3"], "/d")).toThrow("unknown option --sizes");
    expect(() => parseEngineArgs(["--env", "skip"], "/d")).toThrow('--env needs NAME=VALUE, got "skip"');
  });
});

describe("the processes of a preview's tree", () => {
  it("names each one from its command line", () => {
    expect(processRole(ARGV.engine)).toBe("engine (pulumi)");
    expect(processRole(ARGV.host)).toBe("language host");
    expect(processRole(ARGV.program)).toBe("program (node)");
    expect(processRole(ARGV.kubernetes)).toBe("provider kubernetes");
    expect(processRole(ARGV.commandWrapper)).toBe("provider command");
    expect(processRole(ARGV.commandDouble)).toBe("provider command (TEST DOUBLE, node)");
    expect(processRole(ARGV.shim)).toBe("provider pulumi-nodejs");
    expect(processRole(ARGV.dynamic)).toBe("provider pulumi-nodejs (dynamic, node)");
    expect(processRole(ARGV.resolve)).toBe("other: node");
  });

  it("finds the tree under the CLI's pid and nothing beside it", () => {
    const parents = new Map([
      [100, 1],
      [101, 100],
      [102, 101],
      [103, 100],
      [104, 103],
      [200, 1],
      [201, 200],
    ]);
    expect([...descendants(100, parents)].sort()).toEqual([100, 101, 102, 103, 104]);
    expect(descendants(999, parents).size).toBe(0);
  });

  it("keeps each process's peak (sampled or VmHWM), its CPU, and the highest sum of one sample", () => {
    const p = (pid: number, argv: string[], rss: number, hwm: number, cpuS: number) => ({ pid, ppid: 1, argv, rssBytes: rss * MiB, hwmBytes: hwm * MiB, cpuS });
    const samples: ProcSample[] = [
      { atMs: 200, procs: [p(10, ARGV.engine, 100, 100, 0.5), p(11, ARGV.program, 300, 300, 2), p(12, ARGV.commandWrapper, 2, 2, 0)] },
      // The wrapper exec'd node under the same pid; the engine's VmHWM saw a peak between samples.
      { atMs: 400, procs: [p(10, ARGV.engine, 250, 400, 1.5), p(11, ARGV.program, 350, 360, 3), p(12, ARGV.commandDouble, 90, 90, 0.8)] },
      // An exiting process's cmdline is empty: it keeps what it was.
      { atMs: 600, procs: [p(10, ARGV.engine, 380, 400, 2.5), p(12, [], 95, 95, 1)] },
    ];
    const peaks = treePeaks(samples);
    expect(peaks.samples).toBe(3);
    expect(peaks.peakSumBytes).toBe(690 * MiB);
    expect(peaks.peakSumAtMs).toBe(400);
    expect(peaks.processes.map((x) => [x.pid, x.role, x.peakBytes / MiB, x.cpuS])).toEqual([
      [10, "engine (pulumi)", 400, 2.5],
      [11, "program (node)", 360, 3],
      [12, "provider command (TEST DOUBLE, node)", 95, 1],
    ]);
  });
});

describe("the preview's summary", () => {
  it("reads the counts of the Resources: block, not the outputs above it", () => {
    const stdout = ["Outputs:", "    steps                   : 76", "", "Resources:", "    + 282 to create", "    ~ 2 to update", "    4 unchanged", "", ""].join("\n");
    expect(previewSummary(stdout)).toEqual({ create: 282, update: 2, unchanged: 4 });
    expect(previewSummary("Previewing update (prod):\n +  pulumi:pulumi:Stack kubeadm-on-pulumi-prod create\n")).toEqual({});
  });
});

describe("one worker's planned inputs", () => {
  // The shape of a `pulumi preview --json` step (pulumi v3.276.0), values cut short.
  const step = (name: string, type: string, inputs: Record<string, unknown>) => ({
    op: "create",
    urn: `urn:pulumi:prod::kubeadm-on-pulumi::kop:index:Cluster$kop:cluster:Workers$${type}::${name}`,
    newState: { urn: "…", custom: true, type, inputs, parent: "…", provider: "…" },
  });
  const preview = JSON.stringify({
    steps: [
      step("prod-w10/node-prep", "command:remote:Command", { addPreviousOutputInEnv: false, connection: "[secret]", create: "04da6b54-80e4-46f7-96ec-b56ff0331ba9", delete: "sudo -n bash -c '…'", stdin: "x".repeat(30_000) }),
      step("prod-w10/node-prep/files", "pulumi-nodejs:dynamic/kop:ManagedFiles", { connection: { privateKey: "[secret]" }, files: [] }),
      step("prod-w1/node-prep", "command:remote:Command", { stdin: "y".repeat(30_000) }),
      step("prod-w100/node", "command:remote:Command", { stdin: "z" }),
      { op: "same", urn: "urn:pulumi:prod::kubeadm-on-pulumi::pulumi:pulumi:Stack::kubeadm-on-pulumi-prod" },
    ],
    changeSummary: { create: 4 },
  });

  it("sums the JSON of the inputs of the resources named after the host, and no other host's", () => {
    const w = hostInputs(preview, "prod-w10", 10);
    expect(Object.keys(w.byResource)).toEqual(["prod-w10/node-prep", "prod-w10/node-prep/files"]);
    expect(w.byResource["prod-w10/node-prep"]).toBeGreaterThan(30_000);
    expect(w.bytes).toBe(w.byResource["prod-w10/node-prep"] + w.byResource["prod-w10/node-prep/files"]);
  });

  it("says so when the preview plans nothing for the host", () => {
    expect(() => hostInputs(preview, "prod-w11", 10)).toThrow("the preview plans no resource named prod-w11/...");
  });
});

describe("the Real engine section of docs/benchmarks.md", () => {
  const peak = (role: string, mib: number, cpuS: number, pid: number) => ({ pid, role, command: role, peakBytes: mib * MiB, cpuS });
  const first = { command: "npm run bench:engine -- --workers 10,100", date: "2026-12-06T12:40:00.000Z", env: {}, capS: 900, loadAtStart: 1.2, loadAtEnd: 2.1 };
  const later = { command: "npm run bench:engine -- --workers 1000", date: "2026-12-06T13:10:00.000Z", env: {}, capS: 900, loadAtStart: 1.5, loadAtEnd: 2.0 };
  const ten: EngineRun = {
    ...first,
    workers: 10,
    outcome: "done",
    wallMs: 14_676,
    summary: { create: 282 },
    registered: 284,
    peaks: { processes: [peak("program (node)", 297, 4.8, 2), peak("engine (pulumi)", 246, 4.2, 1), peak("provider pulumi-nodejs (dynamic, node)", 166, 2, 3), peak("provider pulumi-nodejs (dynamic, node)", 21, 0, 4), peak("provider pulumi-nodejs", 2, 0, 5), peak("other: node", 22, 0, 6)], peakSumBytes: 1003 * MiB, peakSumAtMs: 14_461, samples: 72 },
  };
  const thousand: EngineRun = {
    ...later,
    workers: 1000,
    outcome: "stopped",
    wallMs: 900_000,
    summary: {},
    registered: 3900,
    peaks: { processes: [peak("engine (pulumi)", 13_800, 1500, 1), peak("program (node)", 1100, 40, 2)], peakSumBytes: 15_000 * MiB, peakSumAtMs: 899_000, samples: 4500 },
  };
  const skipped: EngineRun = { ...thousand, command: "npm run bench:engine -- --workers 1000 --env PULUMI_SKIP_CHECKPOINTS=true", env: { PULUMI_SKIP_CHECKPOINTS: "true" }, outcome: "done", wallMs: 95_000, summary: { create: 4173 } };
  const base = { pulumi: "v3.276.0", plugins: { command: "1.2.1", random: "4.21.2", kubernetes: "4.25.0" }, addOneWorker: { measured: false as const, why: "no hosts." } };
  const result: EngineResult = { ...base, runs: [ten, thousand] };

  it("keeps earlier runs a new bench did not repeat, replaces those it did, defaults first", () => {
    const merged = mergeEngineResults(result, { ...base, runs: [skipped, { ...ten, wallMs: 13_000, command: "again" }] });
    expect(merged.runs.map((r) => [r.workers, settings(r), r.wallMs])).toEqual([
      [10, "", 13_000],
      [1000, "", 900_000],
      [1000, "PULUMI_SKIP_CHECKPOINTS=true", 95_000],
    ]);
    expect(mergeEngineResults(undefined, result).runs).toEqual([ten, thousand]);
  });

  it("judges the targets on the defaults' run and marks a stopped run as missing both, never as a result", () => {
    const v = engineVerdicts({ ...result, runs: [ten, thousand, skipped] });
    expect(v[0]).toEqual({ target: "1000 workers previewed in at most 60 s", result: "stopped at 900 s, unfinished", met: false });
    expect(v[1]).toMatchObject({ result: "at least 14.65 GiB (sum of the tree's resident sets)", met: false });
    expect(v[2]).toMatchObject({ result: "not measured: a state needs a real `pulumi up`", met: undefined });
    expect(v[3]).toMatchObject({ result: "not measured: no stack holds 1000 workers' state here (below)", met: undefined });
  });

  it("judges the state target on a worker's planned inputs only when they alone exceed it", () => {
    const workerInputs = { workers: 10, host: "prod-w10", byResource: { "prod-w10/node-prep": 31_061, "prod-w10/node": 17_739, "prod-w10/kubeadm-join": 1210 }, bytes: 50_010 };
    const v = engineVerdicts({ ...result, workerInputs })[2];
    expect(v.met).toBe(false);
    expect(v.result).toContain("a worker's planned inputs alone are 50.0 KB (prod-w10 at 10 workers: node-prep 31.1 KB, node 17.7 KB, kubeadm-join 1.2 KB)");
    expect(engineVerdicts({ ...result, workerInputs: { ...workerInputs, byResource: { "prod-w10/node": 9000 }, bytes: 9000 } })[2].met).toBeUndefined();
    expect(mergeEngineResults({ ...result, workerInputs }, result).workerInputs).toEqual(workerInputs);
  });

  it("leaves the memory target open when a stopped run had not yet passed it", () => {
    const small = { ...result, runs: [{ ...thousand, peaks: { ...thousand.peaks, peakSumBytes: 1024 * MiB } }] };
    expect(engineVerdicts(small)[1].met).toBeUndefined();
  });

  it("renders one row per run with the largest process of each role, and the command of each", () => {
    const md = renderEngineSection({ ...result, runs: [ten, thousand, skipped] }).join("\n");
    expect(md).toContain("| workers | settings | outcome | resources to create | wall | all processes (peak of the sum) | engine (pulumi) | program (node) | dynamic providers (node) | other (wrappers, helpers) | run |");
    expect(md).toContain("| 10 | defaults | done | 282 | 15 s | 1003 MiB | 246 MiB (4 s) | 297 MiB (5 s) | 166 MiB (2 s) | 22 MiB (0 s) | [1] |");
    expect(md).toContain("| 1000 | defaults | **stopped at 900 s** | (3900 reported) | (900 s) | 14.65 GiB | 13.48 GiB (1500 s) | 1.07 GiB (40 s) | – | – | [2] |");
    expect(md).toContain("| 1000 | `PULUMI_SKIP_CHECKPOINTS=true` | done | 4173 | 95 s |");
    expect(md).toContain("1. `npm run bench:engine -- --workers 10,100` on 2026-12-06 (12:40 UTC), cap 900 s; 1-minute load average at the start and end of each run: 1.2-2.1 (2 cores).");
    expect(md).toContain("| 1000 workers previewed in at most 60 s | stopped at 900 s, unfinished | **no** |");
  });
});
