import type * as pulumi from "@pulumi/pulumi";
import { addonStackOutputs } from "./addons";
import type { Cluster } from "./cluster";
import type { ClusterModel } from "./config";
import { certificateExpiryCommands } from "./lifecycle/certs";

/**
 * The stack's outputs: only those the stack has. An output whose value is undefined (an add-on's
 * password on a stack without that add-on) makes the engine warn on every run.
 */
export function stackOutputs(model: ClusterModel, cluster: Cluster): Record<string, unknown> {
  const outputs: Record<string, unknown> = {
    clusterName: model.name,
    controlPlaneEndpoint: `${model.endpoint.host}:${model.endpoint.port}`,
    nodes: model.nodes.map((h) => ({ name: h.name, address: h.internalAddress, roles: h.roles })),
    steps: Object.keys(cluster.steps).length,
    // The admin kubeconfig (secret): pulumi stack output kubeconfig --show-secrets > kubeconfig
    kubeconfig: cluster.kubeconfig as pulumi.Output<string>,
    // Certificate expiry per control plane (renewal: docs/lifecycle.md).
    certificateExpiryCommand: certificateExpiryCommands(model),
    // Add-ons: where Grafana, Kibana and the UI are, and their credentials as secret outputs.
    ...addonStackOutputs(cluster.addons),
  };
  return Object.fromEntries(Object.entries(outputs).filter(([, value]) => value !== undefined));
}
