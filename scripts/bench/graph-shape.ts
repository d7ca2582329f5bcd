import type { ResourceGraph } from "../lib/mock-program";
import type { GraphShape, GraphTask } from "./types";

/**
 * The custom resources of a recorded program with their direct dependencies, component
 * dependencies expanded to the custom resources under the component (as the engine waits).
 * Keyed by URN: names repeat across types (a ServiceAccount and a DaemonSet "kube-system/calico-node").
 * Same edges as ResourceGraph.dependenciesOf, in time linear in the graph's size.
 */
export function toTaskGraph(graph: ResourceGraph): GraphTask[] {
  const children = new Map<string, string[]>();
  for (const r of graph.resources) {
    const list = children.get(r.parent);
    if (list) list.push(r.urn);
    else children.set(r.parent, [r.urn]);
  }
  const expanded = new Map<string, string[]>();
  const expand = (urn: string): string[] => {
    const known = expanded.get(urn);
    if (known) return known;
    const r = graph.byUrn.get(urn);
    let names: string[] = [];
    if (r?.custom) names = [r.urn];
    else if (r) names = (children.get(urn) ?? []).flatMap(expand);
    expanded.set(urn, names);
    return names;
  };
  return graph.custom.map((r) => ({ id: r.urn, name: r.name, type: r.type, deps: [...new Set(r.dependencies.flatMap(expand))] }));
}

/** Level of each task by id: the number of resources on the longest chain before it (0 = waits for nothing). */
export function taskLevels(tasks: readonly GraphTask[]): Map<string, number> {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const level = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (id: string): number => {
    const known = level.get(id);
    if (known !== undefined) return known;
    const task = byId.get(id);
    if (!task) throw new Error(`dependency ${id} is not a task`);
    if (visiting.has(id)) throw new Error(`dependency cycle through ${id}`);
    visiting.add(id);
    let value = 0;
    for (const dep of task.deps) value = Math.max(value, visit(dep) + 1);
    visiting.delete(id);
    level.set(id, value);
    return value;
  };
  for (const t of tasks) visit(t.id);
  return level;
}

export function graphShape(tasks: readonly GraphTask[]): GraphShape {
  const levels = taskLevels(tasks);
  const width = new Map<number, number>();
  for (const l of levels.values()) width.set(l, (width.get(l) ?? 0) + 1);
  return {
    resources: tasks.length,
    depth: tasks.length === 0 ? 0 : Math.max(...levels.values()) + 1,
    widestLevel: Math.max(0, ...width.values()),
  };
}

/**
 * Custom resources per part of the program: the component right under the root component
 * (a layer such as kop:cluster:Hosts, or the add-ons), or the resource's own type when it sits
 * directly under the root.
 */
export function resourcesByPart(graph: ResourceGraph): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of graph.custom) {
    let current = r;
    for (;;) {
      const parent = graph.byUrn.get(current.parent);
      if (!parent || !graph.byUrn.get(parent.parent)) break;
      current = parent;
    }
    const part = current === r ? r.type : current.type;
    counts[part] = (counts[part] ?? 0) + 1;
  }
  return counts;
}
