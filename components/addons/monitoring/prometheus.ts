import { createHash } from "node:crypto";
import type { ClusterModel } from "../../config";
import { addonImage } from "../images";
import { clusterRole, clusterRoleBinding, configMap, deployment, service, serviceAccount, statefulSet, type AddonPlan } from "../manifest";
import { alertmanagerConfig, prometheusConfig, prometheusRules } from "./scrape";

/** Rolls the pods when their configuration changes (neither process watches its ConfigMap here). */
export const checksum = (...parts: string[]) => createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 16);

/** Prometheus (StatefulSet with a volume) and its Service. Returns the keys Grafana's data source waits for. */
export function planPrometheus(model: ClusterModel, plan: AddonPlan): string[] {
  const ns = model.addons.monitoring.namespace;
  const cfg = model.addons.monitoring.prometheus;
  plan.add(serviceAccount(ns, "prometheus"));
  plan.add(
    clusterRole("kop-prometheus", [
      { apiGroups: [""], resources: ["nodes", "nodes/metrics", "services", "endpoints", "pods"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
      // controller-manager, scheduler and kubelets authorize /metrics against the API server.
      { nonResourceURLs: ["/metrics", "/metrics/cadvisor"], verbs: ["get"] },
    ]),
  );
  plan.add(clusterRoleBinding("kop-prometheus", "kop-prometheus", ns, ["prometheus"]), ["ClusterRole/kop-prometheus"]);
  const config = prometheusConfig(model);
  const rules = prometheusRules();
  plan.add(configMap(ns, "prometheus-config", { "prometheus.yml": config }));
  plan.add(configMap(ns, "prometheus-rules", { "alerts.yml": rules }));
  const labels = { app: "prometheus" };
  const svc = plan.add(service(ns, "prometheus", { selector: labels, ports: [{ name: "http", port: 9090, targetPort: "http" }] }, labels));
  const probe = (path: string) => ({ httpGet: { path, port: "http" }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5 });
  const sts = plan.add(
    statefulSet(
      ns,
      "prometheus",
      {
        serviceName: "prometheus",
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: { "kubeadm-on-pulumi/config-checksum": checksum(config, rules) } },
          spec: {
            serviceAccountName: "prometheus",
            securityContext: { runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, runAsNonRoot: true },
            containers: [
              {
                name: "prometheus",
                image: addonImage(model, cfg.image),
                args: [
                  "--config.file=/etc/prometheus/prometheus.yml",
                  "--storage.tsdb.path=/prometheus",
                  `--storage.tsdb.retention.time=${cfg.retention}`,
                ],
                ports: [{ name: "http", containerPort: 9090 }],
                readinessProbe: probe("/-/ready"),
                livenessProbe: { ...probe("/-/healthy"), initialDelaySeconds: 30 },
                resources: { requests: { cpu: "200m", memory: "1Gi" } },
                volumeMounts: [
                  { name: "config", mountPath: "/etc/prometheus" },
                  { name: "rules", mountPath: "/etc/prometheus/rules" },
                  { name: "data", mountPath: "/prometheus" },
                ],
              },
            ],
            volumes: [
              { name: "config", configMap: { name: "prometheus-config" } },
              { name: "rules", configMap: { name: "prometheus-rules" } },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: "data" },
            spec: {
              accessModes: ["ReadWriteOnce"],
              ...(cfg.storageClass ? { storageClassName: cfg.storageClass } : {}),
              resources: { requests: { storage: cfg.storageSize } },
            },
          },
        ],
      },
      labels,
    ),
  );
  return [sts, svc];
}

/** Alertmanager: one replica, alerts kept in memory (they are re-sent by Prometheus after a restart). */
export function planAlertmanager(model: ClusterModel, plan: AddonPlan): void {
  const ns = model.addons.monitoring.namespace;
  const config = alertmanagerConfig();
  plan.add(configMap(ns, "alertmanager-config", { "alertmanager.yml": config }));
  const labels = { app: "alertmanager" };
  plan.add(
    deployment(
      ns,
      "alertmanager",
      {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: { "kubeadm-on-pulumi/config-checksum": checksum(config) } },
          spec: {
            securityContext: { runAsUser: 65534, runAsNonRoot: true },
            containers: [
              {
                name: "alertmanager",
                image: addonImage(model, model.addons.monitoring.alertmanager.image),
                args: ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
                ports: [{ name: "http", containerPort: 9093 }],
                readinessProbe: { httpGet: { path: "/-/ready", port: "http" }, periodSeconds: 10 },
                resources: { requests: { cpu: "10m", memory: "64Mi" } },
                volumeMounts: [
                  { name: "config", mountPath: "/etc/alertmanager" },
                  { name: "data", mountPath: "/alertmanager" },
                ],
              },
            ],
            volumes: [
              { name: "config", configMap: { name: "alertmanager-config" } },
              { name: "data", emptyDir: {} },
            ],
          },
        },
      },
      labels,
    ),
  );
  plan.add(service(ns, "alertmanager", { selector: labels, ports: [{ name: "http", port: 9093, targetPort: "http" }] }, labels));
}
