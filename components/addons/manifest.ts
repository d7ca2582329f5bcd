import type { input } from "@pulumi/kubernetes/types";
import type * as pulumi from "@pulumi/pulumi";

/** The add-ons, in the order they are declared. */
export const ADDON_NAMES = ["cni", "csr-approver", "metrics-server", "storage", "metallb", "gateway", "logging", "monitoring", "headlamp"] as const;
export type AddonName = (typeof ADDON_NAMES)[number];

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** One Kubernetes object as it will be sent to the cluster. Values may be Pulumi inputs (generated secrets). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface PlannedObject {
  /** "Kind/namespace/name" or "Kind/name": unique within the cluster. */
  key: string;
  manifest: Manifest;
  /** Keys of objects of the same plan that must be ready first. */
  needs: string[];
  /** Keys of objects of other add-ons' plans that must be ready first. */
  after: string[];
}

export function objectKey(m: Pick<Manifest, "kind" | "metadata">): string {
  return m.metadata.namespace ? `${m.kind}/${m.metadata.namespace}/${m.metadata.name}` : `${m.kind}/${m.metadata.name}`;
}

/**
 * The objects of one add-on with the ordering between them. Pure: built from the model (and
 * generated secrets passed in as inputs), declared as typed resources by declare.ts.
 */
export class AddonPlan {
  readonly objects: PlannedObject[] = [];
  /** Objects other add-ons may wait for (the CNI's DaemonSet). */
  readonly ready: string[] = [];

  constructor(readonly addon: AddonName) {}

  /** Adds an object after the objects it needs (and, by key, objects of other add-ons); returns its key. */
  add(manifest: Manifest, needs: string[] = [], after: string[] = []): string {
    const key = objectKey(manifest);
    if (this.objects.some((o) => o.key === key)) throw new Error(`${this.addon}: ${key} is planned twice`);
    for (const need of needs) {
      if (!this.objects.some((o) => o.key === need)) throw new Error(`${this.addon}: ${key} needs ${need}, which is not planned before it`);
    }
    this.objects.push({ key, manifest, needs: [...new Set([...implicitNeeds(manifest, this.objects), ...needs])], after });
    return key;
  }

  get(key: string): Manifest {
    const found = this.objects.find((o) => o.key === key);
    if (!found) throw new Error(`${this.addon}: no object ${key}`);
    return found.manifest;
  }
}

/**
 * Orderings that follow from the objects themselves: a namespaced object after its Namespace, a custom
 * resource after its CRD, a workload after the ServiceAccount, RBAC bindings, ConfigMaps and Secrets it uses.
 */
function implicitNeeds(manifest: Manifest, earlier: PlannedObject[]): string[] {
  const needs: string[] = [];
  const has = (key: string) => earlier.some((o) => o.key === key);
  const ns = manifest.metadata.namespace;
  if (ns && has(`Namespace/${ns}`)) needs.push(`Namespace/${ns}`);
  const group = manifest.apiVersion.includes("/") ? manifest.apiVersion.split("/")[0] : "";
  for (const o of earlier) {
    const crd = o.manifest;
    if (crd.kind !== "CustomResourceDefinition") continue;
    const spec = crd.spec as { group: string; names: { kind: string } };
    if (spec.group === group && spec.names.kind === manifest.kind) needs.push(o.key);
  }
  const pod = podSpecOf(manifest);
  if (pod && ns) {
    const sa = pod.serviceAccountName as string | undefined;
    if (sa && has(`ServiceAccount/${ns}/${sa}`)) {
      needs.push(`ServiceAccount/${ns}/${sa}`);
      for (const o of earlier) {
        if (!["RoleBinding", "ClusterRoleBinding"].includes(o.manifest.kind)) continue;
        const subjects = (o.manifest.subjects ?? []) as Array<{ kind: string; name: string; namespace?: string }>;
        if (subjects.some((s) => s.kind === "ServiceAccount" && s.name === sa && s.namespace === ns)) needs.push(o.key);
      }
    }
    for (const name of referencedObjects(pod, "configMap")) if (has(`ConfigMap/${ns}/${name}`)) needs.push(`ConfigMap/${ns}/${name}`);
    for (const name of referencedObjects(pod, "secret")) if (has(`Secret/${ns}/${name}`)) needs.push(`Secret/${ns}/${name}`);
  }
  return needs;
}

/** The pod template's spec of a workload, or undefined. */
export function podSpecOf(manifest: Manifest): Record<string, any> | undefined {
  const spec = manifest.spec as Record<string, any> | undefined;
  if (!spec) return undefined;
  if (["Deployment", "DaemonSet", "StatefulSet", "Job"].includes(manifest.kind)) return spec.template?.spec;
  return undefined;
}

/** Names of ConfigMaps or Secrets a pod spec mounts or reads into its environment. */
function referencedObjects(pod: Record<string, any>, what: "configMap" | "secret"): string[] {
  const names = new Set<string>();
  for (const v of (pod.volumes ?? []) as any[]) {
    if (what === "configMap" && v.configMap?.name) names.add(v.configMap.name);
    if (what === "secret" && v.secret?.secretName) names.add(v.secret.secretName);
  }
  for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])] as any[]) {
    for (const e of (c.env ?? []) as any[]) {
      const ref = what === "configMap" ? e.valueFrom?.configMapKeyRef : e.valueFrom?.secretKeyRef;
      if (ref?.name) names.add(ref.name);
    }
    for (const e of (c.envFrom ?? []) as any[]) {
      const ref = what === "configMap" ? e.configMapRef : e.secretRef;
      if (ref?.name) names.add(ref.name);
    }
  }
  return [...names];
}

// Builders: one per kind, typed by @pulumi/kubernetes' input types so field typos fail to compile.

type Labels = Record<string, string>;
const meta = (name: string, namespace?: string, labels?: Labels, annotations?: Labels): ObjectMeta => ({
  name,
  ...(namespace ? { namespace } : {}),
  ...(labels && Object.keys(labels).length ? { labels } : {}),
  ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
});

export const namespace = (name: string, labels?: Labels): Manifest => ({ apiVersion: "v1", kind: "Namespace", metadata: meta(name, undefined, labels) });

export const serviceAccount = (ns: string, name: string, extra: { automountServiceAccountToken?: boolean } = {}): Manifest => ({
  apiVersion: "v1",
  kind: "ServiceAccount",
  metadata: meta(name, ns),
  ...extra,
});

export const configMap = (ns: string, name: string, data: Record<string, string>, labels?: Labels): Manifest => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: meta(name, ns, labels),
  data,
});

export const secret = (
  ns: string,
  name: string,
  stringData: Record<string, pulumi.Input<string>>,
  opts: { type?: string; annotations?: Labels; labels?: Labels } = {},
): Manifest => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: meta(name, ns, opts.labels, opts.annotations),
  type: opts.type ?? "Opaque",
  ...(Object.keys(stringData).length ? { stringData } : {}),
});

export const service = (ns: string, name: string, spec: input.core.v1.ServiceSpec, labels?: Labels, annotations?: Labels): Manifest => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: meta(name, ns, labels, annotations),
  spec,
});

export const deployment = (ns: string, name: string, spec: input.apps.v1.DeploymentSpec, labels?: Labels): Manifest => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: meta(name, ns, labels),
  spec,
});

export const daemonSet = (ns: string, name: string, spec: input.apps.v1.DaemonSetSpec, labels?: Labels): Manifest => ({
  apiVersion: "apps/v1",
  kind: "DaemonSet",
  metadata: meta(name, ns, labels),
  spec,
});

export const statefulSet = (ns: string, name: string, spec: input.apps.v1.StatefulSetSpec, labels?: Labels): Manifest => ({
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: meta(name, ns, labels),
  spec,
});

export const job = (ns: string, name: string, spec: input.batch.v1.JobSpec, labels?: Labels): Manifest => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: meta(name, ns, labels),
  spec,
});

export const clusterRole = (name: string, rules: input.rbac.v1.PolicyRule[], labels?: Labels): Manifest => ({
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "ClusterRole",
  metadata: meta(name, undefined, labels),
  rules,
});

export const role = (ns: string, name: string, rules: input.rbac.v1.PolicyRule[]): Manifest => ({
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "Role",
  metadata: meta(name, ns),
  rules,
});

type Subject = { kind: "ServiceAccount"; name: string; namespace: string };
const saSubjects = (ns: string, names: string[]): Subject[] => names.map((name) => ({ kind: "ServiceAccount", name, namespace: ns }));

/** Binds a ClusterRole cluster-wide to service accounts of one namespace. */
export const clusterRoleBinding = (name: string, clusterRoleName: string, ns: string, serviceAccounts: string[]): Manifest => ({
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "ClusterRoleBinding",
  metadata: meta(name),
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRoleName },
  subjects: saSubjects(ns, serviceAccounts),
});

/** Binds a Role (or a ClusterRole, within `ns` only) to service accounts. */
export const roleBinding = (
  ns: string,
  name: string,
  ref: { kind: "Role" | "ClusterRole"; name: string },
  subjects: { namespace: string; names: string[] },
): Manifest => ({
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "RoleBinding",
  metadata: meta(name, ns),
  roleRef: { apiGroup: "rbac.authorization.k8s.io", ...ref },
  subjects: saSubjects(subjects.namespace, subjects.names),
});

export const storageClass = (
  name: string,
  fields: { provisioner: string; parameters?: Record<string, string>; reclaimPolicy?: string; volumeBindingMode?: string; isDefault: boolean },
): Manifest => ({
  apiVersion: "storage.k8s.io/v1",
  kind: "StorageClass",
  metadata: meta(name, undefined, undefined, fields.isDefault ? { "storageclass.kubernetes.io/is-default-class": "true" } : undefined),
  provisioner: fields.provisioner,
  ...(fields.parameters ? { parameters: fields.parameters } : {}),
  reclaimPolicy: fields.reclaimPolicy ?? "Delete",
  volumeBindingMode: fields.volumeBindingMode ?? "Immediate",
});

export const podDisruptionBudget = (ns: string, name: string, spec: input.policy.v1.PodDisruptionBudgetSpec): Manifest => ({
  apiVersion: "policy/v1",
  kind: "PodDisruptionBudget",
  metadata: meta(name, ns),
  spec,
});

export const apiService = (name: string, spec: input.apiregistration.v1.APIServiceSpec): Manifest => ({
  apiVersion: "apiregistration.k8s.io/v1",
  kind: "APIService",
  metadata: meta(name),
  spec,
});

/** A custom resource (its CRD must be planned before it). */
export const customResource = (apiVersion: string, kind: string, name: string, ns: string | undefined, fields: Record<string, unknown>): Manifest => ({
  apiVersion,
  kind,
  metadata: meta(name, ns),
  ...fields,
});

// Small pod-spec helpers.

export const fieldEnv = (name: string, fieldPath: string): input.core.v1.EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });
export const secretEnv = (name: string, secretName: string, key: string): input.core.v1.EnvVar => ({
  name,
  valueFrom: { secretKeyRef: { name: secretName, key } },
});
export const hostPathVolume = (name: string, path: string, type?: string): input.core.v1.Volume => ({
  name,
  hostPath: { path, ...(type ? { type } : {}) },
});

/** Tolerates every taint: node agents (CNI, log shipper, exporters) run on every node. */
export const TOLERATE_ALL: input.core.v1.Toleration[] = [{ operator: "Exists" }];
export const LINUX_ONLY = { "kubernetes.io/os": "linux" };
/** Namespaces whose pods need host access (host network, host paths, privileged). */
export const PRIVILEGED_NAMESPACE = { "pod-security.kubernetes.io/enforce": "privileged" };
