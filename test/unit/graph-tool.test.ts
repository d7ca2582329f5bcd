import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { nodeId, toMermaid } from "../../scripts/graph";
import { clusterGraph } from "./mock-cluster";

const ROOT = path.resolve(__dirname, "..", "..");

describe("npm run graph", () => {
  it("keeps every resource of the prod stack, even ones sharing a name, with one edge per dependency", async () => {
    const graph = await clusterGraph(loadStackFile("prod"));
    const mermaid = toMermaid(graph).split("\n");
    const nodes = mermaid.filter((l) => /^\s+n[0-9a-f]{12}\["/.test(l));
    const edges = mermaid.filter((l) => l.includes(" --> "));
    expect(nodes).toHaveLength(graph.custom.length);
    expect(new Set(nodes.map((l) => l.trim().split("[")[0])).size).toBe(graph.custom.length);
    // kube-system/calico-kube-controllers is a ServiceAccount, a PodDisruptionBudget and a Deployment.
    expect(nodes.filter((l) => l.includes('"kube-system/calico-kube-controllers (')).map((l) => l.trim().split('"')[1])).toEqual([
      "kube-system/calico-kube-controllers (core/v1:ServiceAccount)",
      "kube-system/calico-kube-controllers (policy/v1:PodDisruptionBudget)",
      "kube-system/calico-kube-controllers (apps/v1:Deployment)",
    ]);
    const expectedEdges = graph.custom.flatMap((r) => graph.dependencyUrnsOf(r.urn).map((dep) => `  ${nodeId(dep)} --> ${nodeId(r.urn)}`));
    expect(edges).toEqual(expectedEdges);
    expect(new Set(edges).size).toBe(edges.length);
  });

  it("writes nothing but the graph to stdout with the documented command", () => {
    const stdout = execFileSync("npm", ["run", "--silent", "graph", "--", "prod"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("flowchart LR");
    expect(lines.every((l) => l === "flowchart LR" || /^\s+(subgraph \w+|end|n[0-9a-f]{12}(\[".*"\]| --> n[0-9a-f]{12}))$/.test(l))).toBe(true);
  }, 120_000);
});
