import type * as pulumi from "@pulumi/pulumi";
import type { ClusterModel } from "../config";
import { planCni } from "./cni";
import { kubeletServingCertificates, planCsrApprover } from "./csr-approver";
import { planGateway } from "./gateway";
import { HEADLAMP_NAMESPACE, HEADLAMP_VIEWER, planHeadlamp } from "./headlamp";
import { planLogging, type LoggingSecrets } from "./logging";
import { ADDON_NAMES, type AddonName, type AddonPlan } from "./manifest";
import { planMetallb, type MetallbSecrets } from "./metallb";
import { planMetricsServer } from "./metrics-server";
import { planMonitoring, type MonitoringSecrets } from "./monitoring";
import { planStorage } from "./storage";

/** Generated secrets the add-ons put into the cluster, by add-on (only enabled add-ons get theirs). */
export interface AddonSecrets {
  logging?: LoggingSecrets;
  monitoring?: MonitoringSecrets;
  metallb?: MetallbSecrets;
}

/** Which add-ons this model installs. The CNI always; the rest by their switches. */
export function enabledAddons(model: ClusterModel): AddonName[] {
  const a = model.addons;
  const on: Record<AddonName, boolean> = {
    cni: true,
    "csr-approver": kubeletServingCertificates(model),
    "metrics-server": a.metricsServer.enabled,
    storage: a.storage.provisioner !== "none",
    metallb: a.metallb.enabled,
    gateway: a.gateway.enabled,
    logging: a.logging.enabled,
    monitoring: a.monitoring.enabled,
    headlamp: a.headlamp.enabled,
  };
  return ADDON_NAMES.filter((name) => on[name]);
}

/**
 * Every add-on object, per add-on, in declaration order. Pure: the Pulumi wiring (index.ts), the unit tests and
 * the manifest validation read the same plans. `secrets` must hold the entries of the enabled add-ons.
 */
export function planAddons(model: ClusterModel, secrets: AddonSecrets): AddonPlan[] {
  const need = <T>(value: T | undefined, addon: string): T => {
    if (value === undefined) throw new Error(`the ${addon} add-on needs its generated secrets`);
    return value;
  };
  const builders: Record<AddonName, () => AddonPlan> = {
    cni: () => planCni(model),
    "csr-approver": () => planCsrApprover(model),
    "metrics-server": () => planMetricsServer(model),
    storage: () => planStorage(model),
    metallb: () => planMetallb(model, need(secrets.metallb, "metallb")),
    gateway: () => planGateway(model),
    logging: () => planLogging(model, need(secrets.logging, "logging")),
    monitoring: () => planMonitoring(model, need(secrets.monitoring, "monitoring")),
    headlamp: () => planHeadlamp(model),
  };
  const plans = enabledAddons(model).map((name) => builders[name]());
  checkAddonPlans(plans);
  return plans;
}

/** Cross-plan checks: object keys unique across add-ons, and every `after` key planned by an earlier add-on. */
export function checkAddonPlans(plans: AddonPlan[]): void {
  const owner = new Map<string, string>();
  for (const plan of plans) {
    for (const o of plan.objects) {
      const before = owner.get(o.key);
      if (before) throw new Error(`${o.key} is planned by both ${before} and ${plan.addon}`);
      for (const key of o.after) {
        if (!owner.has(key)) throw new Error(`${plan.addon}: ${o.key} waits for ${key}, which no earlier add-on plans`);
      }
    }
    for (const o of plan.objects) owner.set(o.key, plan.addon);
  }
}

/** How to reach the web UIs, and which stack outputs hold their credentials. */
export interface AddonAccess {
  grafana?: { url?: string; portForward: string; localUrl: string; user: string; passwordOutput: string };
  kibana?: { url?: string; portForward: string; localUrl: string; user: string; passwordOutput: string };
  headlamp?: { portForward: string; localUrl: string; viewerToken: string; adminTokenOutput?: string };
}

export function addonAccess(model: ClusterModel): AddonAccess {
  const a = model.addons;
  const access: AddonAccess = {};
  if (a.monitoring.enabled) {
    access.grafana = {
      ...(a.monitoring.grafana.ingressHost ? { url: `http://${a.monitoring.grafana.ingressHost}/` } : {}),
      portForward: `kubectl -n ${a.monitoring.namespace} port-forward svc/grafana 3000:80`,
      localUrl: "http://localhost:3000/",
      user: "admin",
      passwordOutput: "grafanaAdminPassword",
    };
  }
  if (a.logging.enabled) {
    access.kibana = {
      ...(a.logging.kibana.ingressHost ? { url: `http://${a.logging.kibana.ingressHost}/` } : {}),
      portForward: `kubectl -n ${a.logging.namespace} port-forward svc/kibana 5601:5601`,
      localUrl: "http://localhost:5601/",
      user: "elastic",
      passwordOutput: "elasticPassword",
    };
  }
  if (a.headlamp.enabled) {
    access.headlamp = {
      portForward: `kubectl -n ${HEADLAMP_NAMESPACE} port-forward svc/headlamp 4466:80`,
      localUrl: "http://localhost:4466/",
      viewerToken: `kubectl -n ${HEADLAMP_NAMESPACE} create token ${HEADLAMP_VIEWER}`,
      ...(a.headlamp.adminAccount ? { adminTokenOutput: "headlampAdminToken" } : {}),
    };
  }
  return access;
}
