import type { ClusterModel } from "../../config";
import { addonImage } from "../images";
import {
  AddonPlan,
  clusterRole,
  clusterRoleBinding,
  configMap,
  daemonSet,
  fieldEnv,
  hostPathVolume,
  LINUX_ONLY,
  namespace,
  PRIVILEGED_NAMESPACE,
  serviceAccount,
  TOLERATE_ALL,
} from "../manifest";

export const FLANNEL_NAMESPACE = "kube-flannel";

/** flannel's net-conf.json: the pod network and the backend from the config. */
export function flannelNetConf(model: ClusterModel): string {
  return JSON.stringify({ Network: model.kubernetes.podSubnet, EnableNFTables: false, Backend: { Type: model.addons.cni.flannel.backend } }, null, 2);
}

export const FLANNEL_CNI_CONF = JSON.stringify(
  {
    name: "cbr0",
    cniVersion: "0.3.1",
    plugins: [
      { type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  },
  null,
  2,
);

/** flannel v0.26 with the Kubernetes subnet manager (each node's pod range comes from its spec.podCIDR). */
export function planFlannel(model: ClusterModel): AddonPlan {
  const ns = FLANNEL_NAMESPACE;
  const cfg = model.addons.cni.flannel;
  const plan = new AddonPlan("cni");
  plan.add(namespace(ns, { ...PRIVILEGED_NAMESPACE, "k8s-app": "flannel" }));
  plan.add(serviceAccount(ns, "flannel"));
  plan.add(
    clusterRole("flannel", [
      { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch"] },
    ]),
  );
  plan.add(clusterRoleBinding("flannel", "flannel", ns, ["flannel"]), ["ClusterRole/flannel"]);
  plan.add(configMap(ns, "kube-flannel-cfg", { "cni-conf.json": FLANNEL_CNI_CONF, "net-conf.json": flannelNetConf(model) }, { app: "flannel" }));
  const labels = { app: "flannel", "k8s-app": "flannel" };
  const ds = plan.add(
    daemonSet(ns, "kube-flannel-ds", {
      selector: { matchLabels: labels },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels },
        spec: {
          hostNetwork: true,
          priorityClassName: "system-node-critical",
          serviceAccountName: "flannel",
          nodeSelector: LINUX_ONLY,
          tolerations: TOLERATE_ALL,
          initContainers: [
            {
              name: "install-cni-plugin",
              image: addonImage(model, cfg.cniPluginImage),
              command: ["cp"],
              args: ["-f", "/flannel", "/opt/cni/bin/flannel"],
              volumeMounts: [{ name: "cni-plugin", mountPath: "/opt/cni/bin" }],
            },
            {
              name: "install-cni",
              image: addonImage(model, cfg.image),
              command: ["cp"],
              args: ["-f", "/etc/kube-flannel/cni-conf.json", "/etc/cni/net.d/10-flannel.conflist"],
              volumeMounts: [
                { name: "cni", mountPath: "/etc/cni/net.d" },
                { name: "flannel-cfg", mountPath: "/etc/kube-flannel/" },
              ],
            },
          ],
          containers: [
            {
              name: "kube-flannel",
              image: addonImage(model, cfg.image),
              command: ["/opt/bin/flanneld"],
              // --iface takes an address too: the interface holding the node's InternalIP (kubelet --node-ip),
              // not whichever one has the default route.
              args: ["--ip-masq", "--kube-subnet-mgr", "--iface=$(NODE_IP)"],
              env: [fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_NAMESPACE", "metadata.namespace"), fieldEnv("NODE_IP", "status.hostIP"), { name: "EVENT_QUEUE_DEPTH", value: "5000" }],
              resources: { requests: { cpu: "100m", memory: "50Mi" } },
              securityContext: { privileged: false, capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
              volumeMounts: [
                { name: "run", mountPath: "/run/flannel" },
                { name: "flannel-cfg", mountPath: "/etc/kube-flannel/" },
                { name: "xtables-lock", mountPath: "/run/xtables.lock" },
              ],
            },
          ],
          volumes: [
            hostPathVolume("run", "/run/flannel"),
            hostPathVolume("cni-plugin", "/opt/cni/bin"),
            hostPathVolume("cni", "/etc/cni/net.d"),
            { name: "flannel-cfg", configMap: { name: "kube-flannel-cfg" } },
            hostPathVolume("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
          ],
        },
      },
    }),
  );
  plan.ready.push(ds);
  return plan;
}
