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

/** Any valid node name: a kubelet can only ask for a certificate in its own node's name (the approver checks it). */
export const NODE_NAME_REGEX = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/**
 * The networks a kubelet's certificate may name addresses in: cluster:kubernetes.nodeSubnets when set, else
 * the /24 of every node address. Listing each node's /32 would not stop one node from claiming another's
 * address either, and it would change the approver each time a node is added.
 */
export function approvableNetworks(model: ClusterModel): string[] {
  if (model.kubernetes.nodeSubnets.length > 0) return model.kubernetes.nodeSubnets;
  const networks = model.nodes.map((h) => `${h.internalAddress.split(".").slice(0, 3).join(".")}.0/24`);
  return [...new Set(networks)];
}

/**
 * kubelet-csr-approver: kube-controller-manager never approves kubelet-serving CSRs itself. This one approves
 * a kubelet-serving request only when it comes from the node it names and every address in it lies in the
 * node networks. It does not list the nodes, so adding a node leaves it unchanged.
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
                  { name: "PROVIDER_REGEX", value: NODE_NAME_REGEX },
                  { name: "PROVIDER_IP_PREFIXES", value: approvableNetworks(model).join(",") },
                  // Node names need not resolve in DNS here; the addresses are limited to the node networks instead.
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
