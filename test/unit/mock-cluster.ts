import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "../../components/cluster";
import type { ClusterModel } from "../../components/config";
import { runUnderMocks, type ResourceGraph } from "../../scripts/lib/mock-program";

/** The cluster graph as the engine would receive it for `model`. */
export function clusterGraph(model: ClusterModel, opts: { preview?: boolean } = {}): Promise<ResourceGraph & { result: Cluster }> {
  return runUnderMocks(() => new Cluster(model.name, { model, sshPrivateKey: pulumi.secret("TEST PRIVATE KEY") }), opts);
}

/** Inputs of every custom resource by name, as comparable JSON. */
export function inputsByName(graph: ResourceGraph): Map<string, string> {
  return new Map(graph.custom.map((r) => [r.name, JSON.stringify(r.inputs)]));
}

/** Resource names whose inputs differ between two graphs, plus added and removed names. */
export function graphDiff(before: ResourceGraph, after: ResourceGraph): { added: string[]; removed: string[]; changed: string[] } {
  const a = inputsByName(before);
  const b = inputsByName(after);
  return {
    added: [...b.keys()].filter((k) => !a.has(k)).sort(),
    removed: [...a.keys()].filter((k) => !b.has(k)).sort(),
    changed: [...b.keys()].filter((k) => a.has(k) && a.get(k) !== b.get(k)).sort(),
  };
}
