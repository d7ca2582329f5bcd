import type * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import type { ClusterModel } from "../../config";
import { hostRoute } from "../gateway";
import { addonImage } from "../images";
import { configMap, deployment, secret, secretEnv, service, type AddonPlan } from "../manifest";
import { DASHBOARDS, DATASOURCE_UID, dashboardJson } from "./dashboards";
import { checksum } from "./prometheus";

export const GRAFANA_ADMIN_SECRET = "grafana-admin";

export function grafanaDatasources(model: ClusterModel): string {
  return stringify({
    apiVersion: 1,
    datasources: [
      {
        name: "Prometheus",
        uid: DATASOURCE_UID,
        type: "prometheus",
        access: "proxy",
        url: `http://prometheus.${model.addons.monitoring.namespace}.svc:9090`,
        isDefault: true,
        editable: false,
      },
    ],
  });
}

export const GRAFANA_DASHBOARD_PROVIDER = stringify({
  apiVersion: 1,
  providers: [{ name: "kubeadm-on-pulumi", folder: "Cluster", type: "file", disableDeletion: true, allowUiUpdates: false, options: { path: "/var/lib/grafana/dashboards" } }],
});

/** Grafana with Prometheus provisioned as its data source (once Prometheus is ready) and our dashboards. */
export function planGrafana(model: ClusterModel, plan: AddonPlan, adminPassword: pulumi.Input<string>, prometheusReady: string[]): void {
  const ns = model.addons.monitoring.namespace;
  const cfg = model.addons.monitoring.grafana;
  plan.add(secret(ns, GRAFANA_ADMIN_SECRET, { "admin-user": "admin", "admin-password": adminPassword }));
  const datasources = grafanaDatasources(model);
  plan.add(configMap(ns, "grafana-datasources", { "datasources.yaml": datasources }), prometheusReady);
  plan.add(configMap(ns, "grafana-dashboard-provider", { "dashboards.yaml": GRAFANA_DASHBOARD_PROVIDER }));
  const dashboards = Object.fromEntries(DASHBOARDS.map((d) => [`${d.uid}.json`, dashboardJson(d)]));
  plan.add(configMap(ns, "grafana-dashboards", dashboards));
  const labels = { app: "grafana" };
  const env = [
    secretEnv("GF_SECURITY_ADMIN_USER", GRAFANA_ADMIN_SECRET, "admin-user"),
    secretEnv("GF_SECURITY_ADMIN_PASSWORD", GRAFANA_ADMIN_SECRET, "admin-password"),
    { name: "GF_ANALYTICS_REPORTING_ENABLED", value: "false" },
    { name: "GF_ANALYTICS_CHECK_FOR_UPDATES", value: "false" },
    { name: "GF_USERS_ALLOW_SIGN_UP", value: "false" },
    ...(cfg.ingressHost ? [{ name: "GF_SERVER_ROOT_URL", value: `http://${cfg.ingressHost}/` }] : []),
  ];
  const grafana = plan.add(
    deployment(
      ns,
      "grafana",
      {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: { "kubeadm-on-pulumi/config-checksum": checksum(datasources, GRAFANA_DASHBOARD_PROVIDER, ...Object.values(dashboards)) } },
          spec: {
            securityContext: { runAsUser: 472, runAsGroup: 472, fsGroup: 472, runAsNonRoot: true },
            containers: [
              {
                name: "grafana",
                image: addonImage(model, cfg.image),
                env,
                ports: [{ name: "http", containerPort: 3000 }],
                readinessProbe: { httpGet: { path: "/api/health", port: "http" }, periodSeconds: 10 },
                resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
                volumeMounts: [
                  { name: "datasources", mountPath: "/etc/grafana/provisioning/datasources" },
                  { name: "dashboard-provider", mountPath: "/etc/grafana/provisioning/dashboards" },
                  { name: "dashboards", mountPath: "/var/lib/grafana/dashboards" },
                  { name: "storage", mountPath: "/var/lib/grafana" },
                ],
              },
            ],
            volumes: [
              { name: "datasources", configMap: { name: "grafana-datasources" } },
              { name: "dashboard-provider", configMap: { name: "grafana-dashboard-provider" } },
              { name: "dashboards", configMap: { name: "grafana-dashboards" } },
              // Everything that matters is provisioned; users and preferences made in the UI do not survive a restart.
              { name: "storage", emptyDir: {} },
            ],
          },
        },
      },
      labels,
    ),
  );
  plan.add(service(ns, "grafana", { selector: labels, ports: [{ name: "http", port: 80, targetPort: "http" }] }, labels));
  if (cfg.ingressHost) {
    const route = hostRoute(ns, "grafana", cfg.ingressHost, "grafana", 80);
    plan.add(route.manifest, [grafana], route.after);
  }
}
