import type { ClusterModel } from "../../config";
import { addonImage } from "../images";
import { clusterRole, clusterRoleBinding, daemonSet, deployment, hostPathVolume, LINUX_ONLY, service, serviceAccount, TOLERATE_ALL, type AddonPlan } from "../manifest";

/** node-exporter on every node (host network and PID namespace, host filesystems read-only). */
export function planNodeExporter(model: ClusterModel, plan: AddonPlan): void {
  const ns = model.addons.monitoring.namespace;
  const labels = { app: "node-exporter" };
  plan.add(serviceAccount(ns, "node-exporter", { automountServiceAccountToken: false }));
  plan.add(
    daemonSet(
      ns,
      "node-exporter",
      {
        selector: { matchLabels: labels },
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "node-exporter",
            automountServiceAccountToken: false,
            hostNetwork: true,
            hostPID: true,
            nodeSelector: LINUX_ONLY,
            tolerations: TOLERATE_ALL,
            priorityClassName: "system-node-critical",
            securityContext: { runAsUser: 65534, runAsNonRoot: true },
            containers: [
              {
                name: "node-exporter",
                image: addonImage(model, model.addons.monitoring.nodeExporter.image),
                args: [
                  "--path.procfs=/host/proc",
                  "--path.sysfs=/host/sys",
                  "--path.rootfs=/host/root",
                  "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/containerd/.+|var/lib/docker/.+|var/lib/kubelet/pods/.+)($|/)",
                ],
                ports: [{ name: "metrics", containerPort: 9100 }],
                readinessProbe: { httpGet: { path: "/", port: "metrics" }, periodSeconds: 10 },
                resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                volumeMounts: [
                  { name: "proc", mountPath: "/host/proc", readOnly: true },
                  { name: "sys", mountPath: "/host/sys", readOnly: true },
                  { name: "root", mountPath: "/host/root", readOnly: true, mountPropagation: "HostToContainer" },
                ],
              },
            ],
            volumes: [hostPathVolume("proc", "/proc"), hostPathVolume("sys", "/sys"), hostPathVolume("root", "/")],
          },
        },
      },
      labels,
    ),
  );
  plan.add(service(ns, "node-exporter", { clusterIP: "None", selector: labels, ports: [{ name: "metrics", port: 9100, targetPort: "metrics" }] }, labels));
}

/** What kube-state-metrics exports: workload and node state, never Secrets or ConfigMaps. */
export const KUBE_STATE_RESOURCES: Array<[group: string, resource: string]> = [
  ["", "nodes"],
  ["", "pods"],
  ["", "namespaces"],
  ["", "services"],
  ["", "endpoints"],
  ["", "persistentvolumeclaims"],
  ["", "persistentvolumes"],
  ["", "resourcequotas"],
  ["", "limitranges"],
  ["", "replicationcontrollers"],
  ["apps", "deployments"],
  ["apps", "daemonsets"],
  ["apps", "statefulsets"],
  ["apps", "replicasets"],
  ["batch", "jobs"],
  ["batch", "cronjobs"],
  ["autoscaling", "horizontalpodautoscalers"],
  ["policy", "poddisruptionbudgets"],
  ["storage.k8s.io", "storageclasses"],
  ["networking.k8s.io", "ingresses"],
  ["certificates.k8s.io", "certificatesigningrequests"],
];

export function planKubeStateMetrics(model: ClusterModel, plan: AddonPlan): void {
  const ns = model.addons.monitoring.namespace;
  plan.add(serviceAccount(ns, "kube-state-metrics"));
  const groups = [...new Set(KUBE_STATE_RESOURCES.map(([g]) => g))];
  plan.add(
    clusterRole(
      "kop-kube-state-metrics",
      groups.map((g) => ({ apiGroups: [g], resources: KUBE_STATE_RESOURCES.filter(([rg]) => rg === g).map(([, r]) => r), verbs: ["list", "watch"] })),
    ),
  );
  plan.add(clusterRoleBinding("kop-kube-state-metrics", "kop-kube-state-metrics", ns, ["kube-state-metrics"]), ["ClusterRole/kop-kube-state-metrics"]);
  const labels = { app: "kube-state-metrics" };
  plan.add(
    deployment(
      ns,
      "kube-state-metrics",
      {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "kube-state-metrics",
            nodeSelector: LINUX_ONLY,
            securityContext: { runAsUser: 65534, runAsNonRoot: true },
            containers: [
              {
                name: "kube-state-metrics",
                image: addonImage(model, model.addons.monitoring.kubeStateMetrics.image),
                args: [`--resources=${KUBE_STATE_RESOURCES.map(([, r]) => r).join(",")}`],
                ports: [
                  { name: "http-metrics", containerPort: 8080 },
                  { name: "telemetry", containerPort: 8081 },
                ],
                livenessProbe: { httpGet: { path: "/livez", port: "http-metrics" }, initialDelaySeconds: 5, timeoutSeconds: 5 },
                readinessProbe: { httpGet: { path: "/readyz", port: "telemetry" }, initialDelaySeconds: 5, timeoutSeconds: 5 },
                resources: { requests: { cpu: "10m", memory: "64Mi" } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
              },
            ],
          },
        },
      },
      labels,
    ),
  );
  plan.add(service(ns, "kube-state-metrics", { selector: labels, ports: [{ name: "http-metrics", port: 8080, targetPort: "http-metrics" }] }, labels));
}
