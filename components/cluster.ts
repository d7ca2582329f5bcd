import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import { Addons } from "./addons";
import { ConfigError, type ClusterModel } from "./config";
import { DriftWiring } from "./drift/wiring";
import { ADMIN_KUBECONFIG, nodeJoinIds } from "./kubeadm/node-plan";
import { LifecycleGuard, membershipState } from "./lifecycle/guard";
import { planEngine } from "./plan";
import { hostConnection, remoteStep, type RemoteCommand } from "./remote/remote-step";
import { LAYERS, type LayerName } from "./remote/step";
import { clusterSecrets } from "./secrets";
import { runsWithSudo } from "./remote/invocation";

export interface ClusterArgs {
  model: ClusterModel;
  /** `cluster:sshPrivateKey`, when the key is kept in the stack's secrets. */
  sshPrivateKey?: pulumi.Output<string>;
  /** Reads `privateKeyPath` files; defaults to the file system. */
  readKeyFile?: (path: string) => string;
  /**
   * Declare every placed file and every started unit as a resource `pulumi refresh` reads back
   * (components/drift). index.ts turns it on; off by default so graph tests see only the steps.
   */
  driftDetection?: boolean;
}

const LAYER_TYPES: Record<LayerName, string> = {
  hosts: "kop:cluster:Hosts",
  runtime: "kop:cluster:ContainerRuntime",
  packages: "kop:cluster:KubePackages",
  "load-balancer": "kop:cluster:LoadBalancer",
  etcd: "kop:cluster:Etcd",
  "control-plane": "kop:cluster:ControlPlane",
  workers: "kop:cluster:Workers",
};

/** Reads a key file; a preview, which connects to no host, goes on without one that is missing. */
function readPrivateKeyFile(path: string): string | undefined {
  try {
    return fs.readFileSync(path, "utf8");
  } catch (e) {
    const message = `cannot read the SSH key ${path}: ${(e as Error).message}`;
    if (pulumi.runtime.isDryRun()) {
      pulumi.log.warn(`${message}; the preview goes on, \`pulumi up\` will need it (cluster:ssh.privateKeyPath)`);
      return undefined;
    }
    throw new ConfigError([{ key: "cluster:ssh.privateKeyPath", message }]);
  }
}

/** One layer of the graph: a grouping that `pulumi preview` shows as a tree node. */
export class Layer extends pulumi.ComponentResource {
  constructor(readonly layer: LayerName, opts: pulumi.ComponentResourceOptions) {
    super(LAYER_TYPES[layer], layer, {}, opts);
  }
}

/**
 * The whole cluster: every remote step from the plan, wired with the plan's ordering
 * and nothing more, grouped by layer.
 */
export class Cluster extends pulumi.ComponentResource {
  readonly steps: Readonly<Record<string, RemoteCommand>>;
  readonly secrets: Readonly<Record<string, pulumi.Output<string>>>;
  /** The layer components that have steps (control-plane always). */
  readonly layers: Readonly<Partial<Record<LayerName, Layer>>>;
  /** The admin kubeconfig (secret), server set to the control-plane endpoint; read once, so it stays put. */
  readonly kubeconfig: pulumi.Output<string>;
  /** A @pulumi/kubernetes provider built from `kubeconfig`, for the add-ons. */
  readonly kubernetesProvider: k8s.Provider;
  /** The init and every join: what has to be done before the CNI goes in. */
  readonly nodesJoined: pulumi.Resource[];
  /** The cluster add-ons, through `kubernetesProvider` (docs/addons.md). */
  readonly addons: Addons;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kop:index:Cluster", name, {}, opts);
    const { model } = args;
    const plan = planEngine(model);
    // A layer component per layer that has steps (node-prep covers the runtime and package layers); control-plane always (the guard).
    const used = new Set<LayerName>([...plan.steps.map((s) => s.layer), "control-plane"]);
    const layers = Object.fromEntries(LAYERS.filter((l) => used.has(l)).map((layer) => [layer, new Layer(layer, { parent: this })])) as Record<LayerName, Layer>;
    // Refuses unsafe membership and version changes during preview; every kubeadm step waits for it.
    const guard = new LifecycleGuard("lifecycle-guard", membershipState(model), { parent: layers["control-plane"] });
    const guarded = new Set<LayerName>(["control-plane", "workers"]);
    const secrets: Record<string, pulumi.Output<string>> = clusterSecrets(model, this);
    const readKeyFile = args.readKeyFile ?? readPrivateKeyFile;
    const connections = new Map(model.hosts.map((h) => [h.name, hostConnection(h, { privateKey: args.sshPrivateKey, readKeyFile })]));
    // One secret connection value per host, shared by all of its steps.
    const stepConnections = new Map([...connections].map(([name, c]) => [name, pulumi.secret(pulumi.output(c))]));
    const hosts = new Map(model.hosts.map((h) => [h.name, h]));
    const producers = new Map(Object.entries(plan.outputSecrets).map(([secret, step]) => [step, secret]));

    const drift = args.driftDetection ? new DriftWiring({ hosts, connections, steps: plan.steps }) : undefined;
    const steps: Record<string, RemoteCommand> = {};
    for (const spec of plan.steps) {
      const host = hosts.get(spec.host)!;
      // The step's files go on the host first; their revisions in its command make it wait for them
      // and re-run it in place after a drift repair.
      const files = drift?.filesOf(spec, spec.needs.map((id) => steps[id]), layers[spec.layer]);
      const resource = remoteStep(spec, {
        connection: stepConnections.get(spec.host)!,
        sudo: runsWithSudo(host.ssh.user),
        secrets,
        dependsOn: [...spec.needs.map((id) => steps[id]), ...(guarded.has(spec.layer) ? [guard] : [])],
        parent: layers[spec.layer],
        rerunOn: files?.revisions,
      });
      steps[spec.id] = resource;
      const produced = producers.get(spec.id);
      if (produced) secrets[produced] = pulumi.secret(resource.stdout.apply((s) => s.trim()));
    }

    drift?.declareEtcdMembers(model, plan.steps, steps, layers);
    this.steps = steps;
    this.secrets = secrets;
    this.layers = layers;
    this.kubeconfig = secrets[ADMIN_KUBECONFIG];
    this.kubernetesProvider = new k8s.Provider("kubernetes", { kubeconfig: this.kubeconfig }, { parent: this });
    this.nodesJoined = nodeJoinIds(model).map((id) => steps[id]);
    // Add-ons: the CNI once every node has joined, every other add-on once the CNI is ready.
    this.addons = new Addons("addons", { model, provider: this.kubernetesProvider, dependsOn: this.nodesJoined }, { parent: this });
    this.registerOutputs({});
  }
}
