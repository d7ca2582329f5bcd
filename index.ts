import { addonStackOutputs } from "./components/addons";
import { Cluster } from "./components/cluster";
import { modelFromPulumiConfig } from "./components/config/pulumi";
import { certificateExpiryCommands } from "./components/lifecycle/certs";

const { model, sshPrivateKey } = modelFromPulumiConfig();
const cluster = new Cluster(model.name, { model, sshPrivateKey, driftDetection: true });

export const clusterName = model.name;
export const controlPlaneEndpoint = `${model.endpoint.host}:${model.endpoint.port}`;
export const nodes = model.nodes.map((h) => ({ name: h.name, address: h.internalAddress, roles: h.roles }));
export const steps = Object.keys(cluster.steps).length;
// The admin kubeconfig (secret): pulumi stack output kubeconfig --show-secrets > kubeconfig
export const kubeconfig = cluster.kubeconfig;
// Certificate expiry per control plane (renewal: docs/lifecycle.md).
export const certificateExpiryCommand = certificateExpiryCommands(model);
// Add-ons: where Grafana, Kibana and Headlamp are, and their credentials as secret outputs.
export const { addons, grafanaAdminPassword, elasticPassword, headlampAdminToken } = addonStackOutputs(cluster.addons);
