import { crdManifest, OPEN_OBJECT, type CrdDefinition, type JsonSchema } from "./crd";

const strings: JsonSchema = { type: "array", items: { type: "string" } };
const selectors: JsonSchema = { type: "array", items: OPEN_OBJECT };

/**
 * MetalLB v0.15's kinds. The two this program creates (IPAddressPool, L2Advertisement) carry a schema for
 * their spec so that the API server rejects a malformed pool; the others are open. BGPPeer is served only as
 * v1beta2, its current version, so no conversion webhook is needed (the webhooks are disabled, see metallb.ts).
 */
export const METALLB_CRDS: CrdDefinition[] = [
  {
    group: "metallb.io",
    kind: "IPAddressPool",
    plural: "ipaddresspools",
    scope: "Namespaced",
    versions: [
      {
        name: "v1beta1",
        spec: {
          type: "object",
          required: ["addresses"],
          properties: {
            addresses: strings,
            autoAssign: { type: "boolean" },
            avoidBuggyIPs: { type: "boolean" },
            serviceAllocation: OPEN_OBJECT,
          },
        },
      },
    ],
  },
  {
    group: "metallb.io",
    kind: "L2Advertisement",
    plural: "l2advertisements",
    scope: "Namespaced",
    versions: [
      {
        name: "v1beta1",
        spec: {
          type: "object",
          properties: { ipAddressPools: strings, ipAddressPoolSelectors: selectors, nodeSelectors: selectors, interfaces: strings },
        },
      },
    ],
  },
  { group: "metallb.io", kind: "BGPAdvertisement", plural: "bgpadvertisements", scope: "Namespaced", versions: [{ name: "v1beta1" }] },
  { group: "metallb.io", kind: "BGPPeer", plural: "bgppeers", scope: "Namespaced", versions: [{ name: "v1beta2" }] },
  { group: "metallb.io", kind: "BFDProfile", plural: "bfdprofiles", scope: "Namespaced", versions: [{ name: "v1beta1" }] },
  { group: "metallb.io", kind: "Community", plural: "communities", scope: "Namespaced", versions: [{ name: "v1beta1" }] },
  {
    group: "metallb.io",
    kind: "ServiceL2Status",
    plural: "servicel2statuses",
    scope: "Namespaced",
    versions: [{ name: "v1beta1", statusSubresource: true }],
  },
  {
    group: "metallb.io",
    kind: "ServiceBGPStatus",
    plural: "servicebgpstatuses",
    scope: "Namespaced",
    versions: [{ name: "v1beta1", statusSubresource: true }],
  },
  {
    group: "metallb.io",
    kind: "ConfigurationState",
    plural: "configurationstates",
    scope: "Namespaced",
    versions: [{ name: "v1beta1", statusSubresource: true }],
  },
];

export const metallbCrdManifests = () => METALLB_CRDS.map(crdManifest);
