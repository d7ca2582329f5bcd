import { crdManifest, type CrdDefinition } from "./crd";

/**
 * The custom resource kinds calico v3.28 (Kubernetes datastore) lists and watches. calico-node does not become
 * ready while one is missing, so all are defined. Their schemas are left open on purpose: calico's own client
 * validates every field, as it did when these CRDs had no schemas at all, and shipping the full upstream
 * schemas (about 1 MB of YAML) would add nothing this program checks.
 */
const CALICO_KINDS: Array<[kind: string, plural: string, scope: "Cluster" | "Namespaced"]> = [
  ["BGPConfiguration", "bgpconfigurations", "Cluster"],
  ["BGPFilter", "bgpfilters", "Cluster"],
  ["BGPPeer", "bgppeers", "Cluster"],
  ["BlockAffinity", "blockaffinities", "Cluster"],
  ["CalicoNodeStatus", "caliconodestatuses", "Cluster"],
  ["ClusterInformation", "clusterinformations", "Cluster"],
  ["FelixConfiguration", "felixconfigurations", "Cluster"],
  ["GlobalNetworkPolicy", "globalnetworkpolicies", "Cluster"],
  ["GlobalNetworkSet", "globalnetworksets", "Cluster"],
  ["HostEndpoint", "hostendpoints", "Cluster"],
  ["IPAMBlock", "ipamblocks", "Cluster"],
  ["IPAMConfig", "ipamconfigs", "Cluster"],
  ["IPAMHandle", "ipamhandles", "Cluster"],
  ["IPPool", "ippools", "Cluster"],
  ["IPReservation", "ipreservations", "Cluster"],
  ["KubeControllersConfiguration", "kubecontrollersconfigurations", "Cluster"],
  ["NetworkPolicy", "networkpolicies", "Namespaced"],
  ["NetworkSet", "networksets", "Namespaced"],
];

export const CALICO_CRDS: CrdDefinition[] = [
  ...CALICO_KINDS.map(([kind, plural, scope]): CrdDefinition => ({ group: "crd.projectcalico.org", kind, plural, scope, versions: [{ name: "v1" }] })),
  // calico v3.28 also watches the Kubernetes network-policy API's AdminNetworkPolicy (an out-of-tree CRD).
  {
    group: "policy.networking.k8s.io",
    kind: "AdminNetworkPolicy",
    plural: "adminnetworkpolicies",
    scope: "Cluster",
    versions: [{ name: "v1alpha1", statusSubresource: true }],
  },
];

export const calicoCrdManifests = () => CALICO_CRDS.map(crdManifest);
