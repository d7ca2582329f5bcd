/**
 * A quick A/B harness for the notes in scripts/bench/notes.md: the Cluster component alone (drift
 * detection on, as index.ts sets it) under the benchmark's mocks, without index.ts's config
 * round trip. One line per run:
 *   node --max-semi-space-size=32 --import tsx scripts/bench/cluster-eval.ts <workers> [nodrift]
 */
import * as pulumi from "@pulumi/pulumi";
import { performance } from "node:perf_hooks";
import { Cluster } from "../../components/cluster";
import { runUnderMocks } from "../lib/mock-program";
import { BENCH_STACK, modelWithWorkers, stackSection } from "./topology";

async function main(): Promise<void> {
  const workers = Number(process.argv[2]);
  if (!Number.isInteger(workers) || workers < 1) throw new Error("usage: cluster-eval.ts <workers> [nodrift]");
  const driftDetection = process.argv[3] !== "nodrift";
  const model = modelWithWorkers(stackSection(), workers);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const graph = await runUnderMocks(() => new Cluster(model.name, { model, sshPrivateKey: pulumi.secret("bench"), driftDetection }), { stack: BENCH_STACK, preview: false });
  const used = process.cpuUsage(cpu);
  console.log(
    `${workers} workers${driftDetection ? "" : " (no drift detection)"}: ${graph.custom.length} custom resources, ` +
      `wall ${((performance.now() - start) / 1000).toFixed(1)} s, CPU ${((used.user + used.system) / 1e6).toFixed(1)} s, ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
