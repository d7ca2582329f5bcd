import { Cluster } from "./components/cluster";
import { modelFromPulumiConfig } from "./components/config/pulumi";
import { stackOutputs } from "./components/outputs";

const { model, sshPrivateKey } = modelFromPulumiConfig();
const cluster = new Cluster(model.name, { model, sshPrivateKey, driftDetection: true });

export = stackOutputs(model, cluster);
