import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ClusterModel } from "../config";
import { DASHBOARD_ADMIN_TOKEN } from "./dashboard";
import { declareObject } from "./declare";
import type { AddonName } from "./manifest";
import { addonAccess, enabledAddons, planAddons, type AddonAccess, type AddonSecrets } from "./plan";

export { addonImage } from "./images";
export { kubeletServingCertificates } from "./csr-approver";
export { addonAccess, enabledAddons, planAddons, type AddonAccess, type AddonSecrets } from "./plan";

export interface AddonsArgs {
  model: ClusterModel;
  /** The cluster's @pulumi/kubernetes provider. */
  provider: k8s.Provider;
  /** What the CNI waits for (the control plane and the nodes); every other add-on waits for the CNI. */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

const COMPONENT_TYPES: Record<AddonName, string> = {
  cni: "kop:addons:Cni",
  "csr-approver": "kop:addons:KubeletCsrApprover",
  "metrics-server": "kop:addons:MetricsServer",
  storage: "kop:addons:Storage",
  metallb: "kop:addons:MetalLB",
  "ingress-nginx": "kop:addons:IngressNginx",
  logging: "kop:addons:Logging",
  monitoring: "kop:addons:Monitoring",
  dashboard: "kop:addons:Dashboard",
};

/** One add-on: a node of the preview tree that owns all of the add-on's objects and generated secrets. */
export class Addon extends pulumi.ComponentResource {
  constructor(readonly addon: AddonName, opts: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPES[addon], addon, {}, opts);
  }
}

/**
 * The cluster add-ons as typed Kubernetes resources. Turning an add-on off removes its component, and with it
 * exactly its objects and secrets.
 */
export class Addons extends pulumi.ComponentResource {
  /** The CNI's DaemonSet: ready once pods can network on every node. */
  readonly ready: pulumi.Resource[];
  readonly components: Readonly<Partial<Record<AddonName, Addon>>>;
  /** Every object by key ("Kind/namespace/name"). */
  readonly objects: Readonly<Record<string, pulumi.CustomResource>>;
  readonly access: AddonAccess;
  readonly grafanaAdminPassword?: pulumi.Output<string>;
  readonly elasticPassword?: pulumi.Output<string>;
  readonly dashboardAdminToken?: pulumi.Output<string>;

  constructor(name: string, args: AddonsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kop:index:Addons", name, {}, opts);
    const { model, provider } = args;
    const components: Partial<Record<AddonName, Addon>> = {};
    for (const addon of enabledAddons(model)) components[addon] = new Addon(addon, { parent: this });

    const keepers = { generation: String(model.lifecycle.secretsGeneration) };
    const password = (addon: Addon, id: string, length = 24) =>
      new random.RandomPassword(`${addon.addon}-${id}`, { length, special: false, keepers }, { parent: addon }).result;
    const secrets: AddonSecrets = {};
    if (components.logging) {
      const c = components.logging;
      secrets.logging = {
        elasticPassword: password(c, "elastic-password"),
        kibanaSystemPassword: password(c, "kibana-system-password"),
        fluentBitPassword: password(c, "fluent-bit-password"),
        kibanaEncryptionKey: password(c, "kibana-encryption-key", 32),
      };
    }
    if (components.monitoring) secrets.monitoring = { grafanaAdminPassword: password(components.monitoring, "grafana-admin-password") };
    if (components.metallb) {
      // A RandomPassword, not RandomBytes, whose resource id is its value in plain text in the state.
      secrets.metallb = { memberlistKey: password(components.metallb, "memberlist-key", 128) };
    }

    const objects: Record<string, pulumi.CustomResource> = {};
    let ready: pulumi.Resource[] = [];
    for (const plan of planAddons(model, secrets)) {
      const outside = plan.addon === "cni" ? (args.dependsOn ?? []) : ready;
      for (const o of plan.objects) {
        objects[o.key] = declareObject(o, {
          parent: components[plan.addon],
          provider,
          dependsOn: [...outside, ...o.needs.map((k) => objects[k]), ...o.after.map((k) => objects[k])],
        });
      }
      if (plan.addon === "cni") ready = plan.ready.map((k) => objects[k]);
    }

    this.ready = ready;
    this.components = components;
    this.objects = objects;
    this.access = addonAccess(model);
    if (secrets.monitoring) this.grafanaAdminPassword = pulumi.secret(pulumi.output(secrets.monitoring.grafanaAdminPassword));
    if (secrets.logging) this.elasticPassword = pulumi.secret(pulumi.output(secrets.logging.elasticPassword));
    const tokenSecret = objects[DASHBOARD_ADMIN_TOKEN] as k8s.core.v1.Secret | undefined;
    if (tokenSecret) {
      // The token controller fills the Secret in after it is created; decoded here, kept secret.
      this.dashboardAdminToken = pulumi.secret(tokenSecret.data.apply((d) => Buffer.from(d?.token ?? "", "base64").toString("utf8")));
    }
    this.registerOutputs({});
  }
}

/**
 * The add-ons' stack outputs: where the UIs are (URLs or port-forward commands) and, as secrets, their
 * credentials. Outputs of add-ons that are off are undefined, so the stack does not export them.
 */
export function addonStackOutputs(addons: Addons | undefined) {
  return {
    addons: addons?.access,
    grafanaAdminPassword: addons?.grafanaAdminPassword,
    elasticPassword: addons?.elasticPassword,
    dashboardAdminToken: addons?.dashboardAdminToken,
  };
}
