import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { graphShape, resourcesByPart, taskLevels, toTaskGraph } from "../../scripts/bench/graph-shape";
import { modelWithWorkers, sectionWithWorkers, stackSection } from "../../scripts/bench/topology";
import { runUnderMocks } from "../../scripts/lib/mock-program";

class Thing extends pulumi.CustomResource {
  constructor(name: string, opts: pulumi.CustomResourceOptions = {}) {
    super("test:index:Thing", name, {}, opts);
  }
}

describe("benchmark graph extraction", () => {
  it("expands a dependency on a component to the custom resources under it, like the engine", async () => {
    const graph = await runUnderMocks(() => {
      const root = new pulumi.ComponentResource("test:index:Root", "root", {});
      const group = new pulumi.ComponentResource("test:index:Group", "group", {}, { parent: root });
      const a = new Thing("a", { parent: group });
      const b = new Thing("b", { parent: group, dependsOn: [a] });
      const c = new Thing("c", { parent: root, dependsOn: [group] });
      new Thing("d", { parent: root, dependsOn: [c, b] });
    });
    const tasks = toTaskGraph(graph);
    const byName = new Map(tasks.map((t) => [t.name, t]));
    const names = (id: string) => tasks.find((t) => t.id === id)!.name;
    expect(byName.get("c")!.deps.map(names).sort()).toEqual(["a", "b"]);
    expect(byName.get("d")!.deps.map(names).sort()).toEqual(["b", "c"]);
    // Same answer as ResourceGraph, which the graph tests use.
    expect(graphShape(tasks)).toEqual({ resources: 4, depth: graph.depth(), widestLevel: 1 });
    expect(new Map([...taskLevels(tasks)].map(([id, level]) => [names(id), level]))).toEqual(
      new Map([
        ["a", 0],
        ["b", 1],
        ["c", 2],
        ["d", 3],
      ]),
    );
    expect(resourcesByPart(graph)).toEqual({ "test:index:Group": 2, "test:index:Thing": 2 });
  });

  it("keys resources by URN: names repeat across types", () => {
    const tasks = [
      { id: "urn:sa", name: "kube-system/calico-node", type: "kubernetes:core/v1:ServiceAccount", deps: [] },
      { id: "urn:ds", name: "kube-system/calico-node", type: "kubernetes:apps/v1:DaemonSet", deps: ["urn:sa"] },
    ];
    expect(graphShape(tasks)).toEqual({ resources: 2, depth: 2, widestLevel: 1 });
  });
});

describe("benchmark topology: the prod stack with N workers", () => {
  const section = stackSection("prod");

  it("reproduces the stack file at its own worker count", () => {
    const stack = loadStackFile("prod");
    const model = modelWithWorkers(section, stack.workers.length);
    expect(model.hosts.map((h) => [h.name, h.address, h.roles])).toEqual(stack.hosts.map((h) => [h.name, h.address, h.roles]));
  });

  it("adds copies of the last worker with unique names and addresses, and validates", () => {
    const model = modelWithWorkers(section, 600);
    expect(model.workers).toHaveLength(600);
    expect(new Set(model.hosts.map((h) => h.name)).size).toBe(model.hosts.length);
    expect(new Set(model.hosts.map((h) => h.address)).size).toBe(model.hosts.length);
    const stack = loadStackFile("prod");
    expect(model.hosts.filter((h) => !h.isWorker).map((h) => h.name)).toEqual(stack.hosts.filter((h) => !h.isWorker).map((h) => h.name));
    expect(model.workers[599].roles).toEqual(stack.workers[stack.workers.length - 1].roles);
  });

  it("keeps fewer of the stack's own workers when asked for fewer", () => {
    const hosts = sectionWithWorkers(section, 1).hosts as Array<{ name: string; roles: string[] }>;
    expect(hosts.filter((h) => h.roles.includes("worker")).map((h) => h.name)).toEqual(["prod-w1"]);
    expect(() => sectionWithWorkers(section, 0)).toThrow(/positive integer/);
  });
});
