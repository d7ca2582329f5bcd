import { crdManifest, OPEN_OBJECT, type CrdDefinition, type CrdVersion, type JsonSchema } from "./crd";

/** The Gateway API release whose standard channel these CRDs follow (the one Traefik v3.7 implements). */
export const GATEWAY_API_VERSION = "v1.5.1";
const GROUP = "gateway.networking.k8s.io";
const BUNDLE = { [`${GROUP}/bundle-version`]: GATEWAY_API_VERSION, [`${GROUP}/channel`]: "standard" };

const str: JsonSchema = { type: "string" };
const int: JsonSchema = { type: "integer" };
const objects = (items: JsonSchema = OPEN_OBJECT): JsonSchema => ({ type: "array", items });
/** Declared fields are type-checked; fields not listed here are kept (never pruned), as the upstream schema has them. */
const partial = (required: string[], properties: Record<string, JsonSchema>): JsonSchema => ({
  type: "object",
  required,
  properties,
  "x-kubernetes-preserve-unknown-fields": true,
});

const parentRef = partial(["name"], { group: str, kind: str, namespace: str, name: str, sectionName: str, port: int });
const backendRef = partial(["name"], { group: str, kind: str, namespace: str, name: str, port: int, weight: int });

/**
 * The spec fields this program sets (GatewayClass, Gateway, HTTPRoute) carry types and required keys, so the API
 * server rejects a malformed object; every other field passes through untouched for Traefik to validate and
 * report in the object's status. The upstream schemas (hundreds of KB of generated YAML with CEL rules and
 * defaults) are not copied, like calico's (docs/addons.md, "CRDs").
 */
const SPECS: Record<string, JsonSchema> = {
  GatewayClass: partial(["controllerName"], { controllerName: str, description: str, parametersRef: OPEN_OBJECT }),
  Gateway: partial(["gatewayClassName", "listeners"], {
    gatewayClassName: str,
    listeners: objects(
      partial(["name", "port", "protocol"], {
        name: str,
        hostname: str,
        port: int,
        protocol: str,
        tls: partial([], { mode: str, certificateRefs: objects(partial(["name"], { group: str, kind: str, namespace: str, name: str })) }),
        allowedRoutes: OPEN_OBJECT,
      }),
    ),
    addresses: objects(),
  }),
  HTTPRoute: partial([], {
    parentRefs: objects(parentRef),
    hostnames: { type: "array", items: str },
    rules: objects(partial([], { matches: objects(), filters: objects(), backendRefs: objects(backendRef), timeouts: OPEN_OBJECT })),
  }),
};

type Kind = [kind: string, plural: string, scope: "Cluster" | "Namespaced", versions: string[], status: boolean];
/** Gateway API v1.5 standard channel: the kinds, their served versions (the first is stored) and status subresources. */
const KINDS: Kind[] = [
  ["GatewayClass", "gatewayclasses", "Cluster", ["v1", "v1beta1"], true],
  ["Gateway", "gateways", "Namespaced", ["v1", "v1beta1"], true],
  ["HTTPRoute", "httproutes", "Namespaced", ["v1", "v1beta1"], true],
  ["GRPCRoute", "grpcroutes", "Namespaced", ["v1"], true],
  ["ReferenceGrant", "referencegrants", "Namespaced", ["v1", "v1beta1"], false],
  ["BackendTLSPolicy", "backendtlspolicies", "Namespaced", ["v1"], true],
  ["ListenerSet", "listenersets", "Namespaced", ["v1"], true],
  ["TLSRoute", "tlsroutes", "Namespaced", ["v1"], true],
];

export const GATEWAY_API_CRDS: CrdDefinition[] = KINDS.map(([kind, plural, scope, versions, status]) => ({
  group: GROUP,
  kind,
  plural,
  scope,
  annotations: BUNDLE,
  versions: versions.map((name): CrdVersion => ({ name, ...(SPECS[kind] ? { spec: SPECS[kind] } : {}), statusSubresource: status })),
}));

/** Resource names of the kinds, for RBAC rules. */
export const GATEWAY_API_RESOURCES = KINDS.map(([, plural]) => plural);
export const GATEWAY_API_STATUS_RESOURCES = KINDS.filter(([, , , , status]) => status).map(([, plural]) => `${plural}/status`);

export const gatewayApiCrdManifests = () => GATEWAY_API_CRDS.map(crdManifest);
