/**
 * The Pulumi program the engine tier runs (test/engine/drift-engine.test.ts) with the real
 * CLI: the drift resources of one test host, declared by the cluster's own DriftWiring from
 * the real plan. Only dynamic providers: the steps themselves are remote.Commands, whose
 * plugin cannot be built here (docs/engine-tests.md), so they are not declared; the test
 * runs their scripts where the engine would.
 *
 * Declared, under the layer components the cluster uses:
 * - the runtime-config step's files (containerd config.toml, crictl.yaml) and, as it is the
 *   host's first ManagedFiles here, the host's unit (containerd.service);
 * - the keepalived-config step's VRRP password file (secret: content never declared).
 *
 * Stack config (project namespace): host, address, port, sshPrivateKey (secret),
 * sandboxImage (optional: changes config.toml only).
 */
import * as pulumi from "@pulumi/pulumi";
import { Layer } from "../../../components/cluster";
import { DriftWiring } from "../../../components/drift/wiring";
import { hostConnection } from "../../../components/remote/remote-step";
import { engineModel, engineSteps } from "./model";

const config = new pulumi.Config();
const hostName = config.require("host");
const model = engineModel(
  { name: hostName, address: config.require("address"), port: config.requireNumber("port"), sandboxImage: config.get("sandboxImage") },
  pulumi.getStack(),
);
const { runtimeConfig, keepalivedConfig } = engineSteps(model, hostName);
// Only the VRRP password file of keepalived-config: keepalived itself is not installed on the engine host.
// Only the VRRP password file of keepalived-config: keepalived itself is not installed on the engine host.
const secretFiles = { ...keepalivedConfig, files: keepalivedConfig.files.filter((f) => f.secret), units: [] };

const privateKey = config.requireSecret("sshPrivateKey");
const host = model.hosts.find((h) => h.name === hostName)!;
const drift = new DriftWiring({
  steps: [runtimeConfig, secretFiles],
  hosts: new Map([[hostName, host]]),
  connections: new Map([[hostName, hostConnection(host, { privateKey, readKeyFile: (p) => { throw new Error(`the engine tier passes the key as config, not as a file (${p})`); } })]]),
});
const runtimeLayer = new Layer("runtime", {});
const lbLayer = new Layer("load-balancer", {});

// The host's first ManagedFiles (runtime-config's) also lists its unit, containerd.service.
const runtimeFiles = drift.filesOf(runtimeConfig, [], runtimeLayer);
const vrrpFiles = drift.filesOf(secretFiles, [], lbLayer);

/** The values the steps' commands would carry: a repair moves the revision of the step whose file it repaired. */
export const revisions = { "runtime-config": runtimeFiles.revisions[0], "keepalived-config": vrrpFiles.revisions[0] };
export const unitStates = runtimeFiles.dependsOn[0].units;
