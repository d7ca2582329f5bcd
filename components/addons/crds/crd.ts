import type { Manifest } from "../manifest";

/** An OpenAPI v3 schema as a CRD carries it. */
export type JsonSchema = Record<string, unknown>;

/** Accepts any object: the kind's own controller validates its fields (calico's libcalico-go does). */
export const OPEN_OBJECT: JsonSchema = { type: "object", "x-kubernetes-preserve-unknown-fields": true };

export interface CrdVersion {
  name: string;
  /** spec and status schemas; both default to OPEN_OBJECT. */
  spec?: JsonSchema;
  status?: JsonSchema;
  statusSubresource?: boolean;
}

export interface CrdDefinition {
  group: string;
  kind: string;
  plural: string;
  scope: "Cluster" | "Namespaced";
  versions: CrdVersion[];
  annotations?: Record<string, string>;
}

/**
 * A CustomResourceDefinition with a structural schema: apiVersion, kind, metadata, and spec/status as given.
 * The first version is the storage version; all are served. No conversion webhook: one stored version each.
 */
export function crdManifest(def: CrdDefinition): Manifest {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${def.plural}.${def.group}`, ...(def.annotations ? { annotations: def.annotations } : {}) },
    spec: {
      group: def.group,
      names: { kind: def.kind, listKind: `${def.kind}List`, plural: def.plural, singular: def.kind.toLowerCase() },
      scope: def.scope,
      versions: def.versions.map((v, i) => ({
        name: v.name,
        served: true,
        storage: i === 0,
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              apiVersion: { type: "string" },
              kind: { type: "string" },
              metadata: { type: "object" },
              spec: v.spec ?? OPEN_OBJECT,
              status: v.status ?? OPEN_OBJECT,
            },
          },
        },
        ...(v.statusSubresource ? { subresources: { status: {} } } : {}),
      })),
    },
  };
}
