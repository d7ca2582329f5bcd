/**
 * npm run graph -- <stack>
 * Prints the resource dependency graph (Mermaid) the program builds for a stack, computed by
 * running the program under Pulumi mocks (no engine, no hosts).
 */
import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "../components/cluster";
import { loadStackForCli } from "./lib/cli";
import { runUnderMocks, type ResourceGraph } from "./lib/mock-program";

export function toMermaid(graph: ResourceGraph): string {
  const ids = new Map(graph.custom.map((r, i) => [r.name, `n${i}`]));
  const groups = new Map<string, string[]>();
  for (const r of graph.custom) {
    const parent = graph.byUrn.get(r.parent);
    const group = parent && parent.type.startsWith("kop:cluster:") ? parent.type.slice("kop:cluster:".length) : "Cluster";
    groups.set(group, [...(groups.get(group) ?? []), r.name]);
  }
  const lines = ["flowchart LR"];
  for (const [group, names] of groups) {
    lines.push(`  subgraph ${group}`);
    for (const name of names) lines.push(`    ${ids.get(name)}["${name}"]`);
    lines.push("  end");
  }
  for (const r of graph.custom) {
    for (const dep of graph.dependenciesOf(r.name)) lines.push(`  ${ids.get(dep)} --> ${ids.get(r.name)}`);
  }
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [stack] = argv;
  if (!stack) {
    console.error("usage: npm run graph -- <stack>");
    return 2;
  }
  const model = loadStackForCli(stack);
  if (!model) return 1;
  const graph = await runUnderMocks(() => new Cluster(model.name, { model, sshPrivateKey: pulumi.secret("unused"), readKeyFile: () => "unused" }), { stack });
  console.log(toMermaid(graph));
  console.error(`${graph.custom.length} resources, longest chain ${graph.depth()}`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
