import type { ClusterModel } from "../config";
import { addonImage } from "./images";
import {
  AddonPlan,
  clusterRole,
  clusterRoleBinding,
  configMap,
  deployment,
  LINUX_ONLY,
  namespace,
  role,
  roleBinding,
  secret,
  service,
  serviceAccount,
} from "./manifest";

export const DASHBOARD_NAMESPACE = "kubernetes-dashboard";
export const DASHBOARD_VIEWER = "dashboard-viewer";
export const DASHBOARD_ADMIN = "dashboard-admin";
/** The long-lived token Secret of the admin account; its token is a secret stack output. */
export const DASHBOARD_ADMIN_TOKEN = `Secret/${DASHBOARD_NAMESPACE}/${DASHBOARD_ADMIN}-token`;

/**
 * Kubernetes Dashboard v2.7. The dashboard itself has only the permissions it needs to run; people log in with
 * a token. The default account, dashboard-viewer, is bound to the built-in read-only "view" role (no Secrets);
 * an admin account bound to cluster-admin exists only when cluster:addons.dashboard.adminAccount is true.
 */
export function planDashboard(model: ClusterModel): AddonPlan {
  const ns = DASHBOARD_NAMESPACE;
  const cfg = model.addons.dashboard;
  const plan = new AddonPlan("dashboard");
  plan.add(namespace(ns));
  plan.add(serviceAccount(ns, "kubernetes-dashboard"));
  // Filled in by the dashboard at run time (server-side apply leaves those fields to it).
  plan.add(secret(ns, "kubernetes-dashboard-certs", {}));
  plan.add(secret(ns, "kubernetes-dashboard-csrf", {}));
  plan.add(secret(ns, "kubernetes-dashboard-key-holder", {}));
  plan.add(configMap(ns, "kubernetes-dashboard-settings", {}));
  plan.add(
    role(ns, "kubernetes-dashboard", [
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: ["kubernetes-dashboard-key-holder", "kubernetes-dashboard-certs", "kubernetes-dashboard-csrf"],
        verbs: ["get", "update", "delete"],
      },
      { apiGroups: [""], resources: ["configmaps"], resourceNames: ["kubernetes-dashboard-settings"], verbs: ["get", "update"] },
      { apiGroups: [""], resources: ["services"], resourceNames: ["heapster", "dashboard-metrics-scraper"], verbs: ["proxy"] },
      { apiGroups: [""], resources: ["services/proxy"], resourceNames: ["heapster", "http:heapster:", "https:heapster:", "dashboard-metrics-scraper", "http:dashboard-metrics-scraper"], verbs: ["get"] },
    ]),
  );
  plan.add(clusterRole("kubernetes-dashboard", [{ apiGroups: ["metrics.k8s.io"], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] }]));
  plan.add(roleBinding(ns, "kubernetes-dashboard", { kind: "Role", name: "kubernetes-dashboard" }, { namespace: ns, names: ["kubernetes-dashboard"] }), [
    `Role/${ns}/kubernetes-dashboard`,
  ]);
  plan.add(clusterRoleBinding("kubernetes-dashboard", "kubernetes-dashboard", ns, ["kubernetes-dashboard"]), ["ClusterRole/kubernetes-dashboard"]);

  const restricted = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsUser: 1001, runAsGroup: 2001 };
  const tolerations = [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }];
  const labels = { "k8s-app": "kubernetes-dashboard" };
  const dashboard = plan.add(
    deployment(
      ns,
      "kubernetes-dashboard",
      {
        replicas: 1,
        revisionHistoryLimit: 10,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "kubernetes-dashboard",
            nodeSelector: LINUX_ONLY,
            tolerations,
            securityContext: { seccompProfile: { type: "RuntimeDefault" } },
            containers: [
              {
                name: "kubernetes-dashboard",
                image: addonImage(model, cfg.image),
                args: ["--auto-generate-certificates", `--namespace=${ns}`],
                ports: [{ containerPort: 8443, protocol: "TCP" }],
                livenessProbe: { httpGet: { scheme: "HTTPS", path: "/", port: 8443 }, initialDelaySeconds: 30, timeoutSeconds: 30 },
                volumeMounts: [
                  { name: "kubernetes-dashboard-certs", mountPath: "/certs" },
                  { name: "tmp-volume", mountPath: "/tmp" },
                ],
                securityContext: restricted,
              },
            ],
            volumes: [
              { name: "kubernetes-dashboard-certs", secret: { secretName: "kubernetes-dashboard-certs" } },
              { name: "tmp-volume", emptyDir: {} },
            ],
          },
        },
      },
      labels,
    ),
  );
  plan.add(service(ns, "kubernetes-dashboard", { selector: labels, ports: [{ port: 443, targetPort: 8443 }] }, labels), [dashboard]);

  const scraperLabels = { "k8s-app": "dashboard-metrics-scraper" };
  plan.add(
    deployment(
      ns,
      "dashboard-metrics-scraper",
      {
        replicas: 1,
        revisionHistoryLimit: 10,
        selector: { matchLabels: scraperLabels },
        template: {
          metadata: { labels: scraperLabels },
          spec: {
            serviceAccountName: "kubernetes-dashboard",
            nodeSelector: LINUX_ONLY,
            tolerations,
            securityContext: { seccompProfile: { type: "RuntimeDefault" } },
            containers: [
              {
                name: "dashboard-metrics-scraper",
                image: addonImage(model, cfg.metricsScraperImage),
                ports: [{ containerPort: 8000, protocol: "TCP" }],
                livenessProbe: { httpGet: { scheme: "HTTP", path: "/", port: 8000 }, initialDelaySeconds: 30, timeoutSeconds: 30 },
                volumeMounts: [{ name: "tmp-volume", mountPath: "/tmp" }],
                securityContext: restricted,
              },
            ],
            volumes: [{ name: "tmp-volume", emptyDir: {} }],
          },
        },
      },
      scraperLabels,
    ),
  );
  plan.add(service(ns, "dashboard-metrics-scraper", { selector: scraperLabels, ports: [{ port: 8000, targetPort: 8000 }] }, scraperLabels));

  // Login accounts: their own service accounts, never the namespace's "default" one.
  plan.add(serviceAccount(ns, DASHBOARD_VIEWER));
  plan.add(clusterRoleBinding(DASHBOARD_VIEWER, "view", ns, [DASHBOARD_VIEWER]), [`ServiceAccount/${ns}/${DASHBOARD_VIEWER}`]);
  if (cfg.adminAccount) {
    const admin = plan.add(serviceAccount(ns, DASHBOARD_ADMIN));
    plan.add(clusterRoleBinding(DASHBOARD_ADMIN, "cluster-admin", ns, [DASHBOARD_ADMIN]), [admin]);
    plan.add(
      secret(ns, `${DASHBOARD_ADMIN}-token`, {}, { type: "kubernetes.io/service-account-token", annotations: { "kubernetes.io/service-account.name": DASHBOARD_ADMIN } }),
      [admin],
    );
  }
  return plan;
}
