import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { PlannedObject } from "./manifest";

type Constructor = new (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/** The typed @pulumi/kubernetes class for each built-in kind the add-ons use. */
const TYPED: Record<string, Constructor> = {
  "v1/Namespace": k8s.core.v1.Namespace,
  "v1/ServiceAccount": k8s.core.v1.ServiceAccount,
  "v1/ConfigMap": k8s.core.v1.ConfigMap,
  "v1/Secret": k8s.core.v1.Secret,
  "v1/Service": k8s.core.v1.Service,
  "apps/v1/Deployment": k8s.apps.v1.Deployment,
  "apps/v1/DaemonSet": k8s.apps.v1.DaemonSet,
  "apps/v1/StatefulSet": k8s.apps.v1.StatefulSet,
  "batch/v1/Job": k8s.batch.v1.Job,
  "rbac.authorization.k8s.io/v1/ClusterRole": k8s.rbac.v1.ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": k8s.rbac.v1.ClusterRoleBinding,
  "rbac.authorization.k8s.io/v1/Role": k8s.rbac.v1.Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": k8s.rbac.v1.RoleBinding,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": k8s.apiextensions.v1.CustomResourceDefinition,
  "apiregistration.k8s.io/v1/APIService": k8s.apiregistration.v1.APIService,
  "storage.k8s.io/v1/StorageClass": k8s.storage.v1.StorageClass,
  "policy/v1/PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
};

/** Built-in kinds are declared with their typed class; anything else is a custom resource of a planned CRD. */
export function isTypedKind(apiVersion: string, kind: string): boolean {
  return `${apiVersion}/${kind}` in TYPED;
}

/** Logical name of an object's resource: "namespace/name", or "name" for cluster-scoped objects. */
export function resourceName(o: PlannedObject): string {
  const m = o.manifest.metadata;
  return m.namespace ? `${m.namespace}/${m.name}` : m.name;
}

export function declareObject(o: PlannedObject, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
  const { apiVersion, kind } = o.manifest;
  const ctor = TYPED[`${apiVersion}/${kind}`];
  if (ctor) return new ctor(resourceName(o), o.manifest, opts);
  if (apiVersion.startsWith("v1") || /^(apps|batch|rbac\.authorization\.k8s\.io|networking\.k8s\.io|storage\.k8s\.io|policy)\//.test(apiVersion)) {
    throw new Error(`${o.key}: built-in kind ${apiVersion}/${kind} has no typed class registered in declare.ts`);
  }
  return new k8s.apiextensions.CustomResource(resourceName(o), o.manifest as k8s.apiextensions.CustomResourceArgs, opts);
}
