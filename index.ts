import { addonStackOutputs } from "./components/addons";
import { Cluster } from "./components/cluster";
import { modelFromPulumiConfig } from "./components/config/pulumi";

const { model, sshPrivateKey } = modelFromPulumiConfig();
const cluster = new Cluster(model.name, { model, sshPrivateKey });

export const clusterName = model.name;
export const controlPlaneEndpoint = `${model.endpoint.host}:${model.endpoint.port}`;
export const nodes = model.nodes.map((h) => ({ name: h.name, address: h.internalAddress, roles: h.roles }));
export const steps = Object.keys(cluster.steps).length;
// Add-ons: where Grafana, Kibana and the dashboard are, and their credentials as secret outputs.
export const { addons, grafanaAdminPassword, elasticPassword, dashboardAdminToken } = addonStackOutputs(cluster.addons);
