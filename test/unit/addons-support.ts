import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as fs from "node:fs";
import { parse as parseYaml } from "yaml";
import { Addons } from "../../components/addons";
import { clusterSection, modelFromObject, stackFilePath, type ClusterModel } from "../../components/config";
import { isSecretValue, reveal, runUnderMocks, type RecordedResource, type ResourceGraph } from "../../scripts/lib/mock-program";

/** The engine's marker for a value not known until the resource exists. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
export const MOCK_PASSWORD = "mockedsecretvalue";

/** The `cluster:` section of a stack file, to mutate before building a model. */
export function stackSection(stack: string): Record<string, any> {
  const doc = parseYaml(fs.readFileSync(stackFilePath(stack), "utf8")) as { config: Record<string, unknown> };
  return structuredClone(clusterSection(doc.config)) as Record<string, any>;
}

/** Every add-on switched on (values that need settings get them), on top of a stack's section. */
export function allAddonsOn(section: Record<string, any>): Record<string, any> {
  const s = structuredClone(section);
  const a = (s.addons ??= {});
  const on = (key: string, extra: object = {}) => (a[key] = { ...(a[key] ?? {}), enabled: true, ...extra });
  on("metricsServer");
  on("logging");
  on("monitoring");
  on("ingressNginx", { mode: a.ingressNginx?.mode ?? "loadBalancer" });
  on("metallb", { addresses: a.metallb?.addresses ?? ["192.168.10.200-192.168.10.220"] });
  on("dashboard", { adminAccount: true });
  a.storage = { provisioner: "local-path", ...(a.storage ?? {}) };
  return s;
}

export interface AddonsRun {
  graph: ResourceGraph & { result: Addons };
  /** Kubernetes objects by key "Kind/namespace/name" (or "Kind/name"). */
  objects: Map<string, RecordedResource>;
  /** The stand-in for what the CNI waits for (the cluster's nodes). */
  clusterReadyUrn: string;
}

export interface AddonsRunOptions {
  preview?: boolean;
  /** A brand-new stack: the cluster (its kubeconfig) and the generated passwords do not exist yet. */
  newStack?: boolean;
}

/** Builds the Addons component for `model` under Pulumi mocks and records what the engine receives. */
export async function runAddons(model: ClusterModel, opts: AddonsRunOptions = {}): Promise<AddonsRun> {
  const graph = await runUnderMocks(
    () => {
      // Stands in for the cluster: the kubeconfig comes from it, the CNI waits for it.
      const cluster = new random.RandomPassword("cluster-ready", { length: 8 });
      const provider = new k8s.Provider("k8s", { kubeconfig: cluster.result });
      return new Addons("addons", { model, provider, dependsOn: [cluster] });
    },
    {
      preview: opts.preview ?? true,
      outputs: (type) => {
        if (type === "random:index/randomPassword:RandomPassword") return { result: opts.newStack ? UNKNOWN : MOCK_PASSWORD };
        if (type === "kubernetes:core/v1:Secret") return { data: { token: Buffer.from("admin-token").toString("base64") } };
        return undefined;
      },
    },
  );
  const objects = new Map<string, RecordedResource>();
  for (const r of graph.custom) {
    if (!r.type.startsWith("kubernetes:")) continue;
    const m = reveal(r.inputs.metadata) as { name: string; namespace?: string };
    const key = m.namespace ? `${r.inputs.kind}/${m.namespace}/${m.name}` : `${r.inputs.kind}/${m.name}`;
    if (objects.has(key)) throw new Error(`two resources for ${key}`);
    objects.set(key, r);
  }
  const clusterReadyUrn = graph.custom.find((r) => r.name === "cluster-ready")!.urn;
  return { graph, objects, clusterReadyUrn };
}

/** Keys of the Kubernetes objects a recorded object directly depends on (and "cluster" for the stand-in). */
export function directDependencies(run: AddonsRun, key: string): string[] {
  const byUrn = new Map([...run.objects].map(([k, r]) => [r.urn, k]));
  const r = run.objects.get(key);
  if (!r) throw new Error(`no object ${key}`);
  return r.dependencies.map((urn) => byUrn.get(urn) ?? (urn === run.clusterReadyUrn ? "cluster" : urn));
}

/** Every object `key` waits for, directly or not. */
export function ancestors(run: AddonsRun, key: string): Set<string> {
  const seen = new Set<string>();
  const stack = [key];
  while (stack.length) {
    for (const dep of directDependencies(run, stack.pop()!)) {
      if (!seen.has(dep)) {
        seen.add(dep);
        if (run.objects.has(dep)) stack.push(dep);
      }
    }
  }
  return seen;
}

/** The add-on component ("kop:addons:Logging" -> "logging") an object belongs to. */
export function addonOf(run: AddonsRun, key: string): string {
  const parent = run.objects.get(key)!.parent;
  return parent.split("::").pop()!;
}

/** Inputs with secret envelopes opened, as plain JSON (what the cluster receives). */
export function plain(value: unknown): any {
  const v = reveal(value);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** Paths of secret envelopes inside a value. */
export function secretPaths(value: unknown, path = ""): string[] {
  if (isSecretValue(value)) return [path];
  if (Array.isArray(value)) return value.flatMap((x, i) => secretPaths(x, `${path}[${i}]`));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, x]) => secretPaths(x, path ? `${path}.${k}` : k));
  return [];
}

/** Every string inside a value, with its path. */
export function strings(value: unknown, path = ""): Array<{ path: string; value: string }> {
  const v = reveal(value);
  if (typeof v === "string") return [{ path, value: v }];
  if (Array.isArray(v)) return v.flatMap((x, i) => strings(x, `${path}[${i}]`));
  if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => strings(x, path ? `${path}.${k}` : k));
  return [];
}

/** Image references of every container and init container of a workload's inputs. */
export function podImages(inputs: any): string[] {
  const spec = plain(inputs).spec?.template?.spec;
  if (!spec) return [];
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])].map((c: { image: string }) => c.image);
}

export { modelFromObject, pulumi };
