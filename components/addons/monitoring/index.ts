import type * as pulumi from "@pulumi/pulumi";
import type { ClusterModel } from "../../config";
import { AddonPlan, namespace, PRIVILEGED_NAMESPACE } from "../manifest";
import { planKubeStateMetrics, planNodeExporter } from "./exporters";
import { planGrafana } from "./grafana";
import { planAlertmanager, planPrometheus } from "./prometheus";

export interface MonitoringSecrets {
  grafanaAdminPassword: pulumi.Input<string>;
}

/** Prometheus with node-exporter, kube-state-metrics and the control-plane targets; Alertmanager; Grafana. */
export function planMonitoring(model: ClusterModel, secrets: MonitoringSecrets): AddonPlan {
  const plan = new AddonPlan("monitoring");
  // node-exporter needs the host network, PID namespace and file systems.
  plan.add(namespace(model.addons.monitoring.namespace, PRIVILEGED_NAMESPACE));
  planNodeExporter(model, plan);
  planKubeStateMetrics(model, plan);
  planAlertmanager(model, plan);
  const prometheus = planPrometheus(model, plan);
  planGrafana(model, plan, secrets.grafanaAdminPassword, prometheus);
  return plan;
}
