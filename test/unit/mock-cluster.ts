import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "../../components/cluster";
import type { ClusterModel } from "../../components/config";
import { reveal, runUnderMocks, type ResourceGraph } from "../../scripts/lib/mock-program";

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

/** The parts a node-prep step runs, with the sha256 of each part's script (`kop_part NAME SHA256 ...` lines). */
export function nodePrepParts(graph: ResourceGraph, name: string): Map<string, string> {
  const create = String(reveal(graph.byName(name).inputs.create));
  return new Map([...create.matchAll(/^kop_part '([^']+)' ([0-9a-f]{64})/gm)].map((m) => [m[1], m[2]]));
}

/** The parts of a node-prep step whose script differs between two graphs: the ones that re-run on the host. */
export function changedParts(before: ResourceGraph, after: ResourceGraph, name: string): string[] {
  const [was, is] = [nodePrepParts(before, name), nodePrepParts(after, name)];
  return [...is.keys()].filter((part) => was.get(part) !== is.get(part));
}
