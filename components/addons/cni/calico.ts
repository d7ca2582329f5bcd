import type { ClusterModel } from "../../config";
import { calicoCrdManifests } from "../crds/calico";
import { addonImage } from "../images";
import {
  AddonPlan,
  clusterRole,
  clusterRoleBinding,
  configMap,
  daemonSet,
  deployment,
  fieldEnv,
  hostPathVolume,
  LINUX_ONLY,
  podDisruptionBudget,
  serviceAccount,
  TOLERATE_ALL,
} from "../manifest";

const NS = "kube-system";
const CALICO = "crd.projectcalico.org";

/** How the pool's traffic crosses nodes: calico-node's pool env and its networking backend. */
export function calicoEncapsulation(model: ClusterModel): { ipip: string; vxlan: string; backend: "bird" | "vxlan" } {
  switch (model.addons.cni.calico.encapsulation) {
    case "IPIP":
      return { ipip: "Always", vxlan: "Never", backend: "bird" };
    case "IPIPCrossSubnet":
      return { ipip: "CrossSubnet", vxlan: "Never", backend: "bird" };
    case "VXLAN":
      return { ipip: "Never", vxlan: "Always", backend: "vxlan" };
    // Within a subnet the packets go unencapsulated, on routes BGP distributes.
    case "VXLANCrossSubnet":
      return { ipip: "Never", vxlan: "CrossSubnet", backend: "bird" };
    case "None":
      return { ipip: "Never", vxlan: "Never", backend: "bird" };
  }
}

export const CALICO_CNI_NETWORK_CONFIG = JSON.stringify(
  {
    name: "k8s-pod-network",
    cniVersion: "0.3.1",
    plugins: [
      {
        type: "calico",
        log_level: "info",
        log_file_path: "/var/log/calico/cni/cni.log",
        datastore_type: "kubernetes",
        nodename: "__KUBERNETES_NODE_NAME__",
        mtu: "__CNI_MTU__",
        ipam: { type: "calico-ipam" },
        policy: { type: "k8s" },
        kubernetes: { kubeconfig: "__KUBECONFIG_FILEPATH__" },
      },
      { type: "portmap", snat: true, capabilities: { portMappings: true } },
      { type: "bandwidth", capabilities: { bandwidth: true } },
    ],
  },
  null,
  2,
  // install-cni substitutes __CNI_MTU__ with a number, so it must not stay quoted.
).replace('"__CNI_MTU__"', "__CNI_MTU__");

/**
 * calico v3.28 as its plain manifest lays it out (Kubernetes datastore, no Typha, no operator): CRDs,
 * RBAC, calico-node on every node, calico-kube-controllers. The IP pool is created by calico-node on its
 * first start from the pod CIDR and the chosen encapsulation.
 */
export function planCalico(model: ClusterModel): AddonPlan {
  const cfg = model.addons.cni.calico;
  const image = (name: string) => addonImage(model, `${cfg.imagePrefix}/${name}:${cfg.version}`);
  const encap = calicoEncapsulation(model);
  const plan = new AddonPlan("cni");
  const crds = calicoCrdManifests().map((crd) => plan.add(crd));

  plan.add(
    configMap(NS, "calico-config", {
      typha_service_name: "none",
      calico_backend: encap.backend,
      veth_mtu: "0", // detect from the host's interface
      cni_network_config: CALICO_CNI_NETWORK_CONFIG,
    }),
  );
  for (const sa of ["calico-node", "calico-cni-plugin", "calico-kube-controllers"]) plan.add(serviceAccount(NS, sa));
  const readCalico = (resources: string[], verbs: string[]) => ({ apiGroups: [CALICO], resources, verbs });
  const roles: Record<string, Parameters<typeof clusterRole>[1]> = {
    "calico-node": [
      { apiGroups: [""], resources: ["serviceaccounts/token"], resourceNames: ["calico-cni-plugin"], verbs: ["create"] },
      { apiGroups: [""], resources: ["pods", "nodes", "namespaces", "configmaps"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods", "namespaces", "serviceaccounts", "nodes", "endpoints", "services"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch", "update"] },
      { apiGroups: [""], resources: ["pods/status"], verbs: ["patch"] },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["list", "watch"] },
      { apiGroups: ["policy.networking.k8s.io"], resources: ["adminnetworkpolicies"], verbs: ["list", "watch"] },
      readCalico(
        ["felixconfigurations", "bgppeers", "bgpfilters", "bgpconfigurations", "ippools", "ipreservations", "ipamblocks", "globalnetworkpolicies", "globalnetworksets", "networkpolicies", "networksets", "clusterinformations", "hostendpoints", "blockaffinities", "caliconodestatuses"],
        ["get", "list", "watch"],
      ),
      readCalico(["ippools", "felixconfigurations", "clusterinformations", "bgpconfigurations", "bgppeers"], ["create", "update"]),
      readCalico(["caliconodestatuses"], ["update"]),
      readCalico(["blockaffinities", "ipamblocks", "ipamhandles"], ["get", "list", "create", "update", "delete"]),
      readCalico(["ipamconfigs"], ["get", "create"]),
      { apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["get"] },
    ],
    "calico-cni-plugin": [
      { apiGroups: [""], resources: ["pods", "nodes", "namespaces"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods/status"], verbs: ["patch"] },
      readCalico(["blockaffinities", "ipamblocks", "ipamhandles", "clusterinformations", "ippools", "ipreservations", "ipamconfigs"], ["get", "list", "create", "update", "delete"]),
    ],
    "calico-kube-controllers": [
      { apiGroups: [""], resources: ["nodes", "pods"], verbs: ["get", "list", "watch"] },
      readCalico(["ipreservations"], ["list"]),
      readCalico(["blockaffinities", "ipamblocks", "ipamhandles"], ["get", "list", "create", "update", "delete", "watch"]),
      readCalico(["ippools"], ["list", "watch"]),
      readCalico(["hostendpoints"], ["get", "list", "create", "update", "delete"]),
      readCalico(["clusterinformations"], ["get", "list", "create", "update", "watch"]),
      readCalico(["kubecontrollersconfigurations"], ["get", "create", "update", "watch"]),
    ],
  };
  for (const [name, rules] of Object.entries(roles)) {
    plan.add(clusterRole(name, rules));
    plan.add(clusterRoleBinding(name, name, NS, [name]), [`ClusterRole/${name}`]);
  }

  const probes = encap.backend === "bird" ? { live: ["-felix-live", "-bird-live"], ready: ["-felix-ready", "-bird-ready"] } : { live: ["-felix-live"], ready: ["-felix-ready"] };
  const backendEnv = { name: "CALICO_NETWORKING_BACKEND", valueFrom: { configMapKeyRef: { name: "calico-config", key: "calico_backend" } } };
  const mtuEnv = (name: string) => ({ name, valueFrom: { configMapKeyRef: { name: "calico-config", key: "veth_mtu" } } });
  const labels = { "k8s-app": "calico-node" };
  const node = plan.add(
    daemonSet(
      NS,
      "calico-node",
      {
        selector: { matchLabels: labels },
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels },
          spec: {
            hostNetwork: true,
            nodeSelector: LINUX_ONLY,
            tolerations: TOLERATE_ALL,
            serviceAccountName: "calico-node",
            terminationGracePeriodSeconds: 0,
            priorityClassName: "system-node-critical",
            initContainers: [
              {
                name: "upgrade-ipam",
                image: image("cni"),
                command: ["/opt/cni/bin/calico-ipam", "-upgrade"],
                env: [fieldEnv("KUBERNETES_NODE_NAME", "spec.nodeName"), backendEnv],
                volumeMounts: [
                  { name: "host-local-net-dir", mountPath: "/var/lib/cni/networks" },
                  { name: "cni-bin-dir", mountPath: "/host/opt/cni/bin" },
                ],
                securityContext: { privileged: true },
              },
              {
                name: "install-cni",
                image: image("cni"),
                command: ["/opt/cni/bin/install"],
                env: [
                  { name: "CNI_CONF_NAME", value: "10-calico.conflist" },
                  { name: "CNI_NETWORK_CONFIG", valueFrom: { configMapKeyRef: { name: "calico-config", key: "cni_network_config" } } },
                  fieldEnv("KUBERNETES_NODE_NAME", "spec.nodeName"),
                  mtuEnv("CNI_MTU"),
                  { name: "SLEEP", value: "false" },
                ],
                volumeMounts: [
                  { name: "cni-bin-dir", mountPath: "/host/opt/cni/bin" },
                  { name: "cni-net-dir", mountPath: "/host/etc/cni/net.d" },
                ],
                securityContext: { privileged: true },
              },
            ],
            containers: [
              {
                name: "calico-node",
                image: image("node"),
                env: [
                  { name: "DATASTORE_TYPE", value: "kubernetes" },
                  { name: "WAIT_FOR_DATASTORE", value: "true" },
                  fieldEnv("NODENAME", "spec.nodeName"),
                  backendEnv,
                  { name: "CLUSTER_TYPE", value: "k8s,bgp" },
                  { name: "IP", value: "autodetect" },
                  // The node's InternalIP (kubelet --node-ip), not the first interface found.
                  { name: "IP_AUTODETECTION_METHOD", value: "kubernetes-internal-ip" },
                  { name: "CALICO_IPV4POOL_CIDR", value: model.kubernetes.podSubnet },
                  { name: "CALICO_IPV4POOL_BLOCK_SIZE", value: String(cfg.blockSize) },
                  { name: "CALICO_IPV4POOL_IPIP", value: encap.ipip },
                  { name: "CALICO_IPV4POOL_VXLAN", value: encap.vxlan },
                  { name: "CALICO_IPV6POOL_VXLAN", value: "Never" },
                  mtuEnv("FELIX_IPINIPMTU"),
                  mtuEnv("FELIX_VXLANMTU"),
                  mtuEnv("FELIX_WIREGUARDMTU"),
                  { name: "CALICO_DISABLE_FILE_LOGGING", value: "true" },
                  { name: "FELIX_DEFAULTENDPOINTTOHOSTACTION", value: "ACCEPT" },
                  { name: "FELIX_IPV6SUPPORT", value: "false" },
                  { name: "FELIX_HEALTHENABLED", value: "true" },
                ],
                securityContext: { privileged: true },
                resources: { requests: { cpu: "250m" } },
                lifecycle: { preStop: { exec: { command: ["/bin/calico-node", "-shutdown"] } } },
                livenessProbe: { exec: { command: ["/bin/calico-node", ...probes.live] }, periodSeconds: 10, initialDelaySeconds: 10, failureThreshold: 6, timeoutSeconds: 10 },
                readinessProbe: { exec: { command: ["/bin/calico-node", ...probes.ready] }, periodSeconds: 10, timeoutSeconds: 10 },
                volumeMounts: [
                  { name: "cni-net-dir", mountPath: "/host/etc/cni/net.d", readOnly: false },
                  { name: "lib-modules", mountPath: "/lib/modules", readOnly: true },
                  { name: "xtables-lock", mountPath: "/run/xtables.lock", readOnly: false },
                  { name: "policysync", mountPath: "/var/run/nodeagent" },
                  { name: "var-run-calico", mountPath: "/var/run/calico", readOnly: false },
                  { name: "var-lib-calico", mountPath: "/var/lib/calico", readOnly: false },
                  { name: "cni-log-dir", mountPath: "/var/log/calico/cni", readOnly: true },
                ],
              },
            ],
            volumes: [
              hostPathVolume("lib-modules", "/lib/modules"),
              hostPathVolume("var-run-calico", "/var/run/calico", "DirectoryOrCreate"),
              hostPathVolume("var-lib-calico", "/var/lib/calico", "DirectoryOrCreate"),
              hostPathVolume("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
              hostPathVolume("cni-bin-dir", "/opt/cni/bin", "DirectoryOrCreate"),
              hostPathVolume("cni-net-dir", "/etc/cni/net.d"),
              hostPathVolume("cni-log-dir", "/var/log/calico/cni"),
              hostPathVolume("host-local-net-dir", "/var/lib/cni/networks"),
              hostPathVolume("policysync", "/var/run/nodeagent", "DirectoryOrCreate"),
            ],
          },
        },
      },
      labels,
    ),
    crds,
  );
  plan.ready.push(node);

  const kcLabels = { "k8s-app": "calico-kube-controllers" };
  plan.add(
    deployment(
      NS,
      "calico-kube-controllers",
      {
        replicas: 1,
        selector: { matchLabels: kcLabels },
        strategy: { type: "Recreate" },
        template: {
          metadata: { labels: kcLabels },
          spec: {
            nodeSelector: LINUX_ONLY,
            tolerations: [
              { key: "CriticalAddonsOnly", operator: "Exists" },
              { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" },
            ],
            serviceAccountName: "calico-kube-controllers",
            priorityClassName: "system-cluster-critical",
            containers: [
              {
                name: "calico-kube-controllers",
                image: image("kube-controllers"),
                env: [
                  { name: "ENABLED_CONTROLLERS", value: "node" },
                  { name: "DATASTORE_TYPE", value: "kubernetes" },
                ],
                livenessProbe: { exec: { command: ["/usr/bin/check-status", "-l"] }, periodSeconds: 10, initialDelaySeconds: 10, failureThreshold: 6, timeoutSeconds: 10 },
                readinessProbe: { exec: { command: ["/usr/bin/check-status", "-r"] }, periodSeconds: 10 },
                securityContext: { runAsNonRoot: true },
              },
            ],
          },
        },
      },
      kcLabels,
    ),
    [...crds, node],
  );
  plan.add(podDisruptionBudget(NS, "calico-kube-controllers", { maxUnavailable: 1, selector: { matchLabels: kcLabels } }));
  return plan;
}
