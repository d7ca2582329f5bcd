import type { ClusterModel } from "../config";
import { addonImage } from "./images";
import { CSR_APPROVER, kubeletServingCertificates } from "./csr-approver";
import { AddonPlan, apiService, clusterRole, clusterRoleBinding, deployment, LINUX_ONLY, roleBinding, service, serviceAccount } from "./manifest";

const NS = "kube-system";

/**
 * metrics-server v0.7, the Metrics API behind `kubectl top`. It verifies kubelet serving certificates (signed
 * through the CSR approver add-on) unless cluster:addons.metricsServer.kubeletInsecureTls opts out.
 */
export function planMetricsServer(model: ClusterModel): AddonPlan {
  const cfg = model.addons.metricsServer;
  const plan = new AddonPlan("metrics-server");

  plan.add(serviceAccount(NS, "metrics-server"));
  plan.add(
    clusterRole(
      "system:aggregated-metrics-reader",
      [{ apiGroups: ["metrics.k8s.io"], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] }],
      {
        "rbac.authorization.k8s.io/aggregate-to-admin": "true",
        "rbac.authorization.k8s.io/aggregate-to-edit": "true",
        "rbac.authorization.k8s.io/aggregate-to-view": "true",
      },
    ),
  );
  plan.add(
    clusterRole("system:metrics-server", [
      { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] },
    ]),
  );
  plan.add(roleBinding(NS, "metrics-server-auth-reader", { kind: "Role", name: "extension-apiserver-authentication-reader" }, { namespace: NS, names: ["metrics-server"] }));
  plan.add(clusterRoleBinding("metrics-server:system:auth-delegator", "system:auth-delegator", NS, ["metrics-server"]));
  plan.add(clusterRoleBinding("system:metrics-server", "system:metrics-server", NS, ["metrics-server"]), ["ClusterRole/system:metrics-server"]);
  const labels = { "k8s-app": "metrics-server" };
  plan.add(service(NS, "metrics-server", { selector: labels, ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: "https" }] }, labels));
  const args = [
    "--cert-dir=/tmp",
    "--secure-port=10250",
    `--kubelet-preferred-address-types=${cfg.preferredAddressTypes.join(",")}`,
    "--kubelet-use-node-status-port",
    "--metric-resolution=15s",
  ];
  if (cfg.kubeletInsecureTls) args.push("--kubelet-insecure-tls");
  const server = plan.add(
    deployment(
      NS,
      "metrics-server",
      {
        selector: { matchLabels: labels },
        strategy: { rollingUpdate: { maxUnavailable: 0 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "metrics-server",
            priorityClassName: "system-cluster-critical",
            nodeSelector: LINUX_ONLY,
            containers: [
              {
                name: "metrics-server",
                image: addonImage(model, cfg.image),
                args,
                ports: [{ name: "https", containerPort: 10250, protocol: "TCP" }],
                livenessProbe: { httpGet: { path: "/livez", port: "https", scheme: "HTTPS" }, periodSeconds: 10, failureThreshold: 3 },
                readinessProbe: { httpGet: { path: "/readyz", port: "https", scheme: "HTTPS" }, initialDelaySeconds: 20, periodSeconds: 10, failureThreshold: 3 },
                resources: { requests: { cpu: "100m", memory: "200Mi" } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ["ALL"] },
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  runAsUser: 1000,
                  seccompProfile: { type: "RuntimeDefault" },
                },
                volumeMounts: [{ name: "tmp-dir", mountPath: "/tmp" }],
              },
            ],
            volumes: [{ name: "tmp-dir", emptyDir: {} }],
          },
        },
      },
      labels,
    ),
    [],
    // Verified kubelet certificates exist once the approver has signed them off.
    kubeletServingCertificates(model) ? [CSR_APPROVER] : [],
  );
  plan.add(
    apiService("v1beta1.metrics.k8s.io", {
      group: "metrics.k8s.io",
      version: "v1beta1",
      groupPriorityMinimum: 100,
      versionPriority: 100,
      // metrics-server serves a self-signed certificate; the aggregator reaches it through the Service.
      insecureSkipTLSVerify: true,
      service: { name: "metrics-server", namespace: NS },
    }),
    [server],
  );
  return plan;
}
