import type { ClusterModel } from "../config";
import { addonImage } from "./images";
import { AddonPlan, clusterRole, clusterRoleBinding, deployment, LINUX_ONLY, namespace, secret, service, serviceAccount } from "./manifest";

export const HEADLAMP_NAMESPACE = "headlamp";
export const HEADLAMP_VIEWER = "headlamp-viewer";
export const HEADLAMP_ADMIN = "headlamp-admin";
/** The long-lived token Secret of the admin account; its token is the secret stack output headlampAdminToken. */
export const HEADLAMP_ADMIN_TOKEN = `Secret/${HEADLAMP_NAMESPACE}/${HEADLAMP_ADMIN}-token`;
const PORT = 4466;
const READ = ["get", "list", "watch"];

/**
 * Headlamp (Kubernetes SIG UI), the successor of the retired Kubernetes Dashboard. People log in with a token and
 * Headlamp acts with that token's permissions; its own service account is bound to nothing. The default login,
 * headlamp-viewer, can only read: the built-in "view" role (namespaced objects, no Secrets) plus get/list/watch on
 * the cluster-scoped kinds Headlamp's overview shows. An admin account bound to cluster-admin exists only with
 * cluster:addons.headlamp.adminAccount: true.
 */
export function planHeadlamp(model: ClusterModel): AddonPlan {
  const ns = HEADLAMP_NAMESPACE;
  const cfg = model.addons.headlamp;
  const plan = new AddonPlan("headlamp");
  plan.add(namespace(ns, { "pod-security.kubernetes.io/enforce": "restricted" }));
  plan.add(serviceAccount(ns, "headlamp"));

  const labels = { "app.kubernetes.io/name": "headlamp" };
  const probe = { httpGet: { path: "/", port: "http", scheme: "HTTP" }, periodSeconds: 10, timeoutSeconds: 5 };
  const headlamp = plan.add(
    deployment(
      ns,
      "headlamp",
      {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "headlamp",
            nodeSelector: LINUX_ONLY,
            securityContext: { runAsNonRoot: true, runAsUser: 100, runAsGroup: 101, fsGroup: 101, seccompProfile: { type: "RuntimeDefault" } },
            containers: [
              {
                name: "headlamp",
                image: addonImage(model, cfg.image),
                args: ["-in-cluster", "-plugins-dir=/headlamp/plugins"],
                ports: [{ name: "http", containerPort: PORT, protocol: "TCP" }],
                readinessProbe: probe,
                livenessProbe: { ...probe, initialDelaySeconds: 30 },
                resources: { requests: { cpu: "50m", memory: "64Mi" } },
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                volumeMounts: [{ name: "plugins", mountPath: "/headlamp/plugins" }],
              },
            ],
            volumes: [{ name: "plugins", emptyDir: {} }],
          },
        },
      },
      labels,
    ),
  );
  plan.add(service(ns, "headlamp", { selector: labels, ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }] }, labels), [headlamp]);

  // Login accounts: their own service accounts, never the namespace's "default" one.
  const viewer = plan.add(serviceAccount(ns, HEADLAMP_VIEWER));
  plan.add(clusterRoleBinding(HEADLAMP_VIEWER, "view", ns, [HEADLAMP_VIEWER]), [viewer]);
  plan.add(
    clusterRole(`${HEADLAMP_VIEWER}-cluster`, [
      { apiGroups: [""], resources: ["nodes", "persistentvolumes"], verbs: READ },
      { apiGroups: ["storage.k8s.io"], resources: ["storageclasses", "csidrivers"], verbs: READ },
      { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: READ },
      { apiGroups: ["networking.k8s.io"], resources: ["ingressclasses"], verbs: READ },
      { apiGroups: ["gateway.networking.k8s.io"], resources: ["gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants"], verbs: READ },
      { apiGroups: ["scheduling.k8s.io"], resources: ["priorityclasses"], verbs: READ },
      { apiGroups: ["node.k8s.io"], resources: ["runtimeclasses"], verbs: READ },
      { apiGroups: ["metrics.k8s.io"], resources: ["nodes", "pods"], verbs: READ },
    ]),
  );
  plan.add(clusterRoleBinding(`${HEADLAMP_VIEWER}-cluster`, `${HEADLAMP_VIEWER}-cluster`, ns, [HEADLAMP_VIEWER]), [viewer, `ClusterRole/${HEADLAMP_VIEWER}-cluster`]);
  if (cfg.adminAccount) {
    const admin = plan.add(serviceAccount(ns, HEADLAMP_ADMIN));
    plan.add(clusterRoleBinding(HEADLAMP_ADMIN, "cluster-admin", ns, [HEADLAMP_ADMIN]), [admin]);
    plan.add(
      secret(ns, `${HEADLAMP_ADMIN}-token`, {}, { type: "kubernetes.io/service-account-token", annotations: { "kubernetes.io/service-account.name": HEADLAMP_ADMIN } }),
      [admin],
    );
  }
  return plan;
}
