/**
 * One measurement in a fresh process (so peak RSS belongs to this run alone):
 *   tsx scripts/bench/child.ts evaluate <workers> <result.json> [graph.json]
 *   tsx scripts/bench/child.ts render <workers> <result.json>
 *   tsx scripts/bench/child.ts sdk-floor|sdk-floor-quiet <resources> <result.json>
 * evaluate: the program (index.ts) run under Pulumi mocks with the prod stack's config scaled to
 * N workers, until every resource is registered (as `pulumi up` would); render: `npm run render`'s work.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { parseClusterConfig } from "../../components/config";
import { runUnderMocks } from "../lib/mock-program";
import { withoutPromiseStacks } from "../../components/remote/declare";
import { RemoteCommand } from "../../components/remote/remote-step";
import { renderPlan } from "../lib/render-plan";
import { hostRole } from "./provisioning";
import { graphShape, resourcesByPart, toTaskGraph } from "./graph-shape";
import { BENCH_STACK, pulumiConfigEntries, sectionWithWorkers, stackSection } from "./topology";
import type { EvaluationSample, FloorSample, GraphFile, RenderSample } from "./types";

const importMs = performance.now();

function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** The program itself: index.ts, as `pulumi up` runs it, with its config set through the SDK. */
const PROGRAM = path.resolve(__dirname, "..", "..", "index.ts");

async function evaluate(workers: number, graphFile: string | undefined): Promise<EvaluationSample> {
  const section = sectionWithWorkers(stackSection(), workers);
  const { config, secretKeys } = pulumiConfigEntries(section);
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const graph = await runUnderMocks(
    () => {
      pulumi.runtime.setAllConfig(config, secretKeys);
      return require(PROGRAM) as Record<string, unknown>;
    },
    { stack: BENCH_STACK, preview: false },
  );
  const end = performance.now();
  const cpu = process.cpuUsage(cpuStart);
  const rss = peakRssBytes();
  // Outside the measured span: the model again, for the host count and the roles.
  const model = parseClusterConfig(section, { stackName: BENCH_STACK });
  const sample: EvaluationSample = {
    workers,
    hosts: model.hosts.length,
    wallMs: end - start,
    cpuMs: (cpu.user + cpu.system) / 1000,
    importMs,
    peakRssBytes: rss,
    resources: graph.resources.length,
    customResources: graph.custom.length,
  };
  if (graphFile) {
    const tasks = toTaskGraph(graph);
    const file: GraphFile = {
      workers,
      shape: graphShape(tasks),
      parts: resourcesByPart(graph),
      roles: Object.fromEntries(model.hosts.map((h) => [h.name, hostRole(h.roles)])),
      tasks,
    };
    fs.writeFileSync(graphFile, JSON.stringify(file));
  }
  return sample;
}

/**
 * The Pulumi SDK's own cost per resource: `count` remote.Commands with minimal inputs, no
 * dependencies and no program logic, under the same mocks: what any program pays per resource,
 * as `command.remote.Command` with the SDK's defaults, or as remoteStep declares a step
 * (RemoteCommand: only the properties set, one shared connection, no promise stacks).
 */
async function sdkFloor(count: number, quietStacks: boolean): Promise<FloorSample> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const graph = await runUnderMocks(
    () => {
      const parent = new pulumi.ComponentResource("kop:bench:Floor", "floor", {});
      const plain = (i: number) => new command.remote.Command(`c${i}`, { connection: { host: "192.0.2.1" }, create: "true" }, { parent });
      // As remoteStep declares a step: only the properties it sets, no promise stacks.
      const connection = pulumi.secret(pulumi.output({ host: "192.0.2.1" }));
      const slim = (i: number) => new RemoteCommand(`c${i}`, { connection, create: "true", addPreviousOutputInEnv: false }, false, { parent });
      for (let i = 0; i < count; i++) (quietStacks ? withoutPromiseStacks(() => slim(i)) : plain(i));
    },
    { stack: BENCH_STACK, preview: false },
  );
  const end = performance.now();
  const cpu = process.cpuUsage(cpuStart);
  return { resources: graph.custom.length, quietStacks, wallMs: end - start, cpuMs: (cpu.user + cpu.system) / 1000, importMs, peakRssBytes: peakRssBytes() };
}

function walk(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const sub = walk(full);
      files += sub.files;
      bytes += sub.bytes;
    } else {
      files++;
      bytes += fs.statSync(full).size;
    }
  }
  return { files, bytes };
}

function render(workers: number): RenderSample {
  const section = sectionWithWorkers(stackSection(), workers);
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-bench-render-"));
  try {
    const start = performance.now();
    const model = parseClusterConfig(section, { stackName: BENCH_STACK });
    const manifest = renderPlan(model, outDir);
    const end = performance.now();
    const rss = peakRssBytes();
    const written = walk(outDir);
    return {
      workers,
      hosts: model.hosts.length,
      wallMs: end - start,
      importMs,
      peakRssBytes: rss,
      steps: manifest.filter((e) => e.kind === "script").length,
      filesWritten: written.files,
      bytesWritten: written.bytes,
    };
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<void> {
  const [kind, workersText, resultFile, graphFile] = argv;
  const workers = Number(workersText);
  if (!resultFile || !Number.isInteger(workers)) throw new Error("usage: child.ts evaluate|render|sdk-floor|sdk-floor-quiet <workers|resources> <result.json> [graph.json]");
  let sample: EvaluationSample | RenderSample | FloorSample;
  if (kind === "evaluate") sample = await evaluate(workers, graphFile);
  else if (kind === "render") sample = render(workers);
  else if (kind === "sdk-floor") sample = await sdkFloor(workers, false);
  else if (kind === "sdk-floor-quiet") sample = await sdkFloor(workers, true);
  else throw new Error(`unknown measurement ${kind}`);
  fs.writeFileSync(resultFile, JSON.stringify(sample));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
