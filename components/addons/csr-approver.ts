import type { ClusterModel } from "../config";
import { addonImage } from "./images";
import { AddonPlan, clusterRole, clusterRoleBinding, deployment, LINUX_ONLY, serviceAccount } from "./manifest";

const NS = "kube-system";
const NAME = "kubelet-csr-approver";
export const CSR_APPROVER = `Deployment/${NS}/${NAME}`;

/**
 * True when kubelets serve certificates signed by the cluster CA (KubeletConfiguration serverTLSBootstrap:
 * true), so metrics-server and Prometheus can verify them. That is the default; only
 * cluster:addons.metricsServer.kubeletInsecureTls: true keeps kubeadm's self-signed kubelet certificates.
 * It does not depend on metrics-server being enabled, so switching that add-on leaves kubelets alone.
 * The kubeadm configuration renderer reads this.
 */
export function kubeletServingCertificates(model: ClusterModel): boolean {
  return !model.addons.metricsServer.kubeletInsecureTls;
}

/** Regex of the node names the approver may approve: exactly the configured nodes. */
export function approvableNodeNames(model: ClusterModel): string {
  return `^(${model.nodes.map((h) => h.name.replace(/\./g, "\\.")).join("|")})$`;
}

/**
 * kubelet-csr-approver: kube-controller-manager never approves kubelet-serving CSRs itself. This one approves
 * a request only when its node name and every address in it belong to a configured node.
 */
export function planCsrApprover(model: ClusterModel): AddonPlan {
  const plan = new AddonPlan("csr-approver");
  plan.add(serviceAccount(NS, NAME));
  plan.add(
    clusterRole(NAME, [
      { apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/approval"], verbs: ["update"] },
      { apiGroups: ["certificates.k8s.io"], resources: ["signers"], resourceNames: ["kubernetes.io/kubelet-serving"], verbs: ["approve"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create", "get", "update"] },
      { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
    ]),
  );
  plan.add(clusterRoleBinding(NAME, NAME, NS, [NAME]), [`ClusterRole/${NAME}`]);
  const labels = { app: NAME };
  plan.add(
    deployment(
      NS,
      NAME,
      {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: NAME,
            priorityClassName: "system-cluster-critical",
            nodeSelector: LINUX_ONLY,
            tolerations: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }],
            containers: [
              {
                name: NAME,
                image: addonImage(model, model.addons.metricsServer.csrApproverImage),
                env: [
                  { name: "PROVIDER_REGEX", value: approvableNodeNames(model) },
                  { name: "PROVIDER_IP_PREFIXES", value: model.nodes.map((h) => `${h.internalAddress}/32`).join(",") },
                  // Node names need not resolve in DNS here; names and addresses are pinned above instead.
                  { name: "BYPASS_DNS_RESOLUTION", value: "true" },
                ],
                resources: { requests: { cpu: "10m", memory: "32Mi" } },
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 65532 },
              },
            ],
          },
        },
      },
      labels,
    ),
  );
  return plan;
}
