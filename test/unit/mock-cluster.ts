import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "../../components/cluster";
import type { ClusterModel } from "../../components/config";
import { reveal, runUnderMocks, type RecordedResource, type ResourceGraph } from "../../scripts/lib/mock-program";

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

/** The parts a node-prep step runs, with the sha256 of each part's script (`kop_part NAME SHA256 ...` lines of the script on its stdin). */
export function nodePrepParts(graph: ResourceGraph, name: string): Map<string, string> {
  const scripts = stepScripts(graph.byName(name)).create;
  return new Map([...scripts.matchAll(/^kop_part '([^']+)' ([0-9a-f]{64})/gm)].map((m) => [m[1], m[2]]));
}

/** The parts of a node-prep step whose script differs between two graphs: the ones that re-run on the host. */
export function changedParts(before: ResourceGraph, after: ResourceGraph, name: string): string[] {
  const [was, is] = [nodePrepParts(before, name), nodePrepParts(after, name)];
  return [...is.keys()].filter((part) => was.get(part) !== is.get(part));
}

/**
 * A declared step's scripts, cut from its stdin at the lengths its create command reads
 * (components/remote/invocation.ts): the create script, then the delete script ("" without one).
 */
export function stepScripts(resource: RecordedResource): { create: string; delete: string } {
  const create = String(reveal(resource.inputs.create));
  const lengths = /head -c (\d+) >"\$d\/create"; head -c (\d+) >"\$d\/delete"/.exec(create);
  if (!lengths) throw new Error(`${resource.name}: its create command reads no scripts from stdin:\n${create}`);
  const stdin = Buffer.from(String(reveal(resource.inputs.stdin)), "utf8");
  const [c, d] = [Number(lengths[1]), Number(lengths[2])];
  return { create: stdin.subarray(0, c).toString("utf8"), delete: stdin.subarray(c, c + d).toString("utf8") };
}
