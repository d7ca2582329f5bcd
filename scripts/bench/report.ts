import * as fs from "node:fs";
import * as path from "node:path";
import { renderEngineSection } from "./engine";
import type { BenchResult } from "./result";
import type { EvaluationSample, FloorSample } from "./types";
import { growth, median } from "./stats";

/** Hand-written findings (profiles, fixes, recommendations) placed at the end of the report. */
export const NOTES_FILE = path.join(__dirname, "notes.md");
/** Hand-written: what the real engine's cost is made of (after the Real engine tables). */
export const ENGINE_NOTES_FILE = path.join(__dirname, "engine-notes.md");

export const TARGETS = { evalWorkers: 1000, evalSeconds: 10, evalBytes: 2 ** 30, linearFrom: 100, benchMinutes: 10, headlineWorkers: 100 };

const s = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
const dur = (seconds: number) => (seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h` : seconds >= 120 ? `${(seconds / 60).toFixed(1)} min` : `${seconds.toFixed(0)} s`);
const x = (ratio: number) => `${ratio.toFixed(2)}x`;
const row = (cells: Array<string | number>) => `| ${cells.join(" | ")} |`;
const spread = (values: number[], format: (v: number) => string) =>
  values.length > 1 ? `${format(median(values))} (${format(Math.min(...values))}-${format(Math.max(...values))})` : format(values[0]);

export interface Verdict {
  target: string;
  result: string;
  met: boolean | undefined;
}

/** The issue's targets, judged from the measurements (undefined: not measured this run). */
export function verdicts(r: BenchResult): Verdict[] {
  const evalAt = (n: number) => r.evaluation.find((e) => e.workers === n);
  const big = evalAt(TARGETS.evalWorkers);
  const small = evalAt(TARGETS.linearFrom);
  const base = r.evaluation[0];
  const failedBig = r.failures.find((f) => f.kind === "evaluate" && f.size === TARGETS.evalWorkers);
  const out: Verdict[] = [];
  if (big) {
    const wall = median(big.samples.map((x) => x.wallMs));
    const rss = median(big.samples.map((x) => x.peakRssBytes));
    out.push({ target: `${TARGETS.evalWorkers} workers evaluate in under ${TARGETS.evalSeconds} s`, result: `${s(wall)} (CPU ${s(median(big.samples.map((x) => x.cpuMs)))})`, met: wall < TARGETS.evalSeconds * 1000 });
    out.push({ target: `... and under 1 GiB`, result: `peak RSS ${mib(rss)}`, met: rss < TARGETS.evalBytes });
  } else {
    out.push({ target: `${TARGETS.evalWorkers} workers evaluate in under ${TARGETS.evalSeconds} s and 1 GiB`, result: failedBig ? failedBig.reason : "not measured", met: failedBig ? false : undefined });
  }
  if (big && small && base && base.workers < small.workers) {
    const point = (e: BenchResult["evaluation"][number], pick: (x: EvaluationSample) => number) => ({ n: e.workers, value: median(e.samples.map(pick)) });
    const wall = growth(point(small, (x) => x.wallMs), point(big, (x) => x.wallMs), point(base, (x) => x.wallMs));
    const cpu = growth(point(small, (x) => x.cpuMs), point(big, (x) => x.cpuMs), point(base, (x) => x.cpuMs));
    out.push({
      target: `cost grows linearly: N=${TARGETS.evalWorkers} vs N=${TARGETS.linearFrom} about 10x (judged on CPU increments over N=${base.workers}: linear is ${wall.linearMarginalRatio.toFixed(1)}x, met within 25%)`,
      result: `wall ${x(wall.ratio)} (increments ${x(wall.marginalRatio)}), CPU ${x(cpu.ratio)} (increments ${x(cpu.marginalRatio)})`,
      met: cpu.marginalRatio <= wall.linearMarginalRatio * 1.25,
    });
  }
  const depths = new Set(r.shape.map((g) => g.depth));
  out.push({
    target: "graph depth independent of N",
    result: r.shape.map((g) => `${g.depth} at N=${g.workers}`).join(", "),
    met: r.shape.length > 1 ? depths.size === 1 : undefined,
  });
  out.push({ target: `npm run bench under ${TARGETS.benchMinutes} min on 2 cores`, result: `${(r.benchSeconds / 60).toFixed(1)} min on ${r.machine.cores} cores`, met: r.benchSeconds < TARGETS.benchMinutes * 60 });
  return out;
}

/** Per-resource cost of bare resources: the slope between the smallest and largest count, per way of declaring. */
export function floorSlopes(r: BenchResult) {
  return [false, true].flatMap((quietStacks) => {
    const samples = r.floor.filter((f) => f.quietStacks === quietStacks).sort((a, b) => a.resources - b.resources);
    if (samples.length < 2) return [];
    const [a, b] = [samples[0], samples[samples.length - 1]];
    const per = (pick: (f: FloorSample) => number) => (pick(b) - pick(a)) / (b.resources - a.resources);
    return [{ quietStacks, samples, cpuMsPerResource: per((f) => f.cpuMs), rssBytesPerResource: per((f) => f.peakRssBytes) }];
  });
}

/** "at 100 workers the makespan is 1.9x the critical path with --parallel 16, 1.1x with 64". */
export function headline(r: BenchResult): string | undefined {
  const p = r.provisioning.find((q) => q.workers === TARGETS.headlineWorkers);
  const e = r.evaluation.find((q) => q.workers === TARGETS.evalWorkers);
  const parts: string[] = [];
  if (e) parts.push(`the program evaluates ${TARGETS.evalWorkers} workers in ${s(median(e.samples.map((x) => x.wallMs)))} (peak ${mib(median(e.samples.map((x) => x.peakRssBytes)))})`);
  if (p) {
    const m = Object.entries(p.makespanSeconds).filter(([k]) => k !== "unbounded");
    parts.push(
      `a first \`pulumi up\` of ${TARGETS.headlineWorkers} workers is simulated to take ${m.map(([k, v]) => `${x(v / p.criticalPathSeconds)} the critical path with --parallel ${k} (${dur(v)})`).join(" and ")}; the critical path is ${dur(p.criticalPathSeconds)} and one resource at a time would take ${dur(p.serialSeconds)}`,
    );
  }
  return parts.length ? parts.join("; ") + "." : undefined;
}

export function renderReport(r: BenchResult): string {
  const out: string[] = [];
  const m = r.machine;
  out.push("# Benchmarks", "");
  out.push(
    `Measured by \`${r.command}\` on ${r.date.slice(0, 10)} (${r.date.slice(11, 16)} UTC) in ${(r.benchSeconds / 60).toFixed(1)} min. Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB RAM, Node ${m.node}, ${m.platform}.${m.programNodeArgs ? ` The program runs with \`${m.programNodeArgs}\` (Pulumi.yaml \`runtime.options.nodeargs\`, as \`pulumi up\` runs it).` : ""}`,
    "",
    `**Load:** the machine was shared with other work while this ran. 1-minute load average ${m.loadAtStart.toFixed(1)} at the start, ${m.loadMeanDuringRuns.toFixed(1)} on average when runs started, ${m.loadAtEnd.toFixed(1)} at the end (${m.cores} cores: a load of ${m.cores} means fully busy). Wall times are inflated by that; the CPU time of the measuring process (user + system) is given beside them and is less affected.`,
    "",
    `**Topology:** stacks/Pulumi.${r.stack}.yaml as committed (2 HAProxy + keepalived balancers, 3 external etcd members, 3 control planes, its add-ons), with N workers: the stack's own workers, then copies of its last worker. Every size is a validated config (the same parser as \`pulumi up\`).`,
    "",
  );
  const first = r.shape[0];
  if (first) {
    out.push(
      `**What the program built at this run** (custom resources at N=${first.workers}, by layer): ${Object.entries(first.parts)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k.replace(/^kop:cluster:/, "")} ${v}`)
        .join(", ")}.`,
      "",
    );
  }
  const h = headline(r);
  if (h) out.push(`**Headline:** ${h}`, "");

  out.push("## Targets", "", row(["target", "result", "met"]), row(["---", "---", "---"]));
  for (const v of verdicts(r)) out.push(row([v.target, v.result, v.met === undefined ? "not measured" : v.met ? "yes" : "**no**"]));
  out.push("");

  out.push(
    "## 1. Program evaluation under Pulumi mocks",
    "",
    "The program itself (index.ts: config read and validated, `new Cluster(...)` with drift detection as index.ts sets it, stack outputs) until every resource is registered, as `pulumi up` runs it (not a preview), under Pulumi mocks in a fresh process per run (`scripts/bench/child.ts`, TypeScript through tsx). Median of the runs, (min-max). Peak RSS is the process's maxRSS, module loading included.",
    "",
    row(["workers", "hosts", "resources (custom)", "runs", "wall", "CPU", "peak RSS", "module loading (not in wall)"]),
    row(["---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]),
  );
  for (const e of r.evaluation) {
    const x0 = e.samples[0];
    out.push(
      row([
        e.workers,
        x0.hosts,
        `${x0.resources} (${x0.customResources})`,
        e.samples.length,
        spread(e.samples.map((x) => x.wallMs), s),
        spread(e.samples.map((x) => x.cpuMs), s),
        spread(e.samples.map((x) => x.peakRssBytes), mib),
        s(median(e.samples.map((x) => x.importMs))),
      ]),
    );
  }
  for (const f of r.failures) out.push("", `- ${f.kind} at N=${f.size}: ${f.reason}`);
  for (const e of r.evaluation.filter((e) => e.skippedRepeats)) out.push("", `- evaluation at N=${e.workers}: ${e.skippedRepeats}`);
  out.push("");

  const floorRows = floorSlopes(r);
  if (floorRows.length > 0) {
    out.push(
      "**Pulumi SDK floor.** The same harness with bare `remote.Command`s (minimal inputs, no dependencies, no program logic): what any Pulumi Node.js program pays per resource before doing anything of its own. Slope between the two counts:",
      "",
      row(["declared", "runs (resources: wall, CPU, peak RSS)", "CPU per resource", "peak RSS per resource"]),
      row(["---", "---", "---:", "---:"]),
      ...floorRows.map((f) =>
        row([
          f.quietStacks ? "as remoteStep declares a step (RemoteCommand, no promise stacks)" : "command.remote.Command, SDK defaults",
          f.samples.map((x) => `${x.resources}: ${s(x.wallMs)}, ${s(x.cpuMs)}, ${mib(x.peakRssBytes)}`).join("; "),
          `${f.cpuMsPerResource.toFixed(2)} ms`,
          `${Math.round(f.rssBytesPerResource / 1024)} KiB`,
        ]),
      ),
      "",
    );
    const big = r.evaluation[r.evaluation.length - 1];
    if (big) {
      const x0 = big.samples[0];
      out.push(
        `For comparison, the program at N=${big.workers}: ${(median(big.samples.map((x) => x.cpuMs)) / x0.customResources).toFixed(2)} ms CPU and ${Math.round(median(big.samples.map((x) => x.peakRssBytes)) / x0.customResources / 1024)} KiB peak RSS per custom resource (everything included), ${(x0.customResources / big.workers).toFixed(1)} custom resources per worker.`,
        "",
      );
    }
  }

  out.push(
    "## 2. Rendering (`npm run render`)",
    "",
    "`renderPlan` (scripts/lib/render-plan.ts) from the validated config into a scratch directory, fresh process per run.",
    "",
    row(["workers", "steps", "runs", "wall", "peak RSS", "files written", "bytes written"]),
    row(["---:", "---:", "---:", "---:", "---:", "---:", "---:"]),
  );
  for (const e of r.render) {
    const x0 = e.samples[0];
    out.push(row([e.workers, x0.steps, e.samples.length, spread(e.samples.map((x) => x.wallMs), s), spread(e.samples.map((x) => x.peakRssBytes), mib), x0.filesWritten, `${(x0.bytesWritten / 2 ** 20).toFixed(1)} MiB`]));
  }
  for (const e of r.render.filter((e) => e.skippedRepeats)) out.push("", `- rendering at N=${e.workers}: ${e.skippedRepeats}`);
  out.push("");

  out.push(
    "## 3. Graph shape",
    "",
    "Custom resources (what the engine creates), longest dependency chain in resources, and the most resources on one level (level = longest chain ending at the resource), from the dependencies recorded under mocks (component dependencies expanded to their custom resources).",
    "",
    row(["workers", "resources", "depth (longest chain)", "widest level"]),
    row(["---:", "---:", "---:", "---:"]),
  );
  for (const g of r.shape) out.push(row([g.workers, g.resources, g.depth, g.widestLevel]));
  out.push("");

  const ps = Object.keys(r.provisioning[0]?.makespanSeconds ?? {}).filter((k) => k !== "unbounded");
  out.push(
    "## 4. Provisioning makespan (simulated `pulumi up`)",
    "",
    "List scheduling over the recorded graph: a resource starts when all its dependencies have finished and fewer than P resources are running (`pulumi up --parallel P`); ready resources start in the order they became ready, then in declaration order. Durations per resource from docs/step-durations.json (table below). References from the same durations: the **critical path** (no tool can be faster) and a **serial** run, one resource at a time (sum of all durations).",
    "",
    row(["workers", "resources", "critical path", ...ps.map((p) => `makespan P=${p}`), ...ps.map((p) => `P=${p} / critical path`), "unlimited P", "serial", "from measured durations"]),
    row(["---:", "---:", "---:", ...ps.map(() => "---:"), ...ps.map(() => "---:"), "---:", "---:", "---:"]),
  );
  for (const p of r.provisioning) {
    out.push(
      row([
        p.workers,
        p.resources,
        dur(p.criticalPathSeconds),
        ...ps.map((k) => dur(p.makespanSeconds[k])),
        ...ps.map((k) => x(p.makespanSeconds[k] / p.criticalPathSeconds)),
        dur(p.makespanSeconds.unbounded),
        dur(p.serialSeconds),
        `${(p.measuredShare * 100).toFixed(p.measuredShare < 0.1 ? 1 : 0)}% of the serial time`,
      ]),
    );
  }
  out.push("");
  const unknown = new Map<string, number>();
  for (const p of r.provisioning) for (const [k, v] of Object.entries(p.unknown)) unknown.set(k, Math.max(unknown.get(k) ?? 0, v));
  if (unknown.size > 0) {
    out.push(
      `**Resources without a duration (counted as 0 s, so the makespans above are too low):** ${[...unknown].map(([k, v]) => `${k} (up to ${v})`).join(", ")}. Add them to docs/step-durations.json.`,
      "",
    );
  } else {
    out.push("Every resource of the graph had a duration (none counted as 0 s by default).", "");
  }
  const hp = r.provisioning.find((p) => p.workers === TARGETS.headlineWorkers) ?? r.provisioning[0];
  if (hp) {
    out.push(`Critical path at N=${hp.workers} (*estimate*, **measured**):`, "");
    const label = (c: (typeof hp.criticalPath)[number]) => (c.type === "command:remote:Command" ? c.name : `${c.name} (${c.type.slice(c.type.lastIndexOf(":") + 1)})`);
    out.push(hp.criticalPath.map((c) => (c.measured ? `**${label(c)}** ${c.seconds} s` : `*${label(c)}* ${c.seconds} s`)).join(" -> "), "");
  }

  out.push("### Step durations", "", row(["key", "seconds", "kind", "source"]), row(["---", "---:", "---", "---"]));
  for (const [section, entries] of [
    ["step", r.durations.steps],
    ["type", r.durations.types],
  ] as const) {
    for (const [key, e] of Object.entries(entries)) {
      const measured = e.source.startsWith("measured:");
      out.push(row([`${section} \`${key}\``, e.seconds, measured ? "**measured**" : "*estimate*", e.source.replace(/^(measured|estimate): /, "").replace(/\|/g, "\\|")]));
    }
  }
  out.push("");

  if (r.realEngine) {
    out.push(...renderEngineSection(r.realEngine));
    if (fs.existsSync(ENGINE_NOTES_FILE)) out.push(fs.readFileSync(ENGINE_NOTES_FILE, "utf8").trim(), "");
  }
  if (fs.existsSync(NOTES_FILE)) out.push(fs.readFileSync(NOTES_FILE, "utf8").trim(), "");
  out.push(`Raw numbers: docs/benchmarks.json. Re-run: \`npm run bench\` (options: \`--sizes 3,30,100 --reps 3 --timeout 300 --budget 540 --no-floor\`).`, "");
  return out.join("\n");
}
