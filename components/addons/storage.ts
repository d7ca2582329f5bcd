import { stringify } from "yaml";
import type { ClusterModel } from "../config";
import { addonImage } from "./images";
import {
  AddonPlan,
  clusterRole,
  clusterRoleBinding,
  configMap,
  deployment,
  fieldEnv,
  LINUX_ONLY,
  namespace,
  PRIVILEGED_NAMESPACE,
  role,
  roleBinding,
  serviceAccount,
  storageClass,
} from "./manifest";

export const LOCAL_PATH_NAMESPACE = "local-path-storage";
export const NFS_NAMESPACE = "nfs-provisioner";

/** The name of the StorageClass this add-on marks as the cluster default, or undefined with provisioner "none". */
export function defaultStorageClassName(model: ClusterModel): string | undefined {
  const p = model.addons.storage.provisioner;
  return p === "local-path" ? "local-path" : p === "nfs" ? "nfs-client" : undefined;
}

/** A dynamic volume provisioner and the one default StorageClass, so the add-ons' StatefulSets bind volumes. */
export function planStorage(model: ClusterModel): AddonPlan {
  return model.addons.storage.provisioner === "nfs" ? planNfs(model) : planLocalPath(model);
}

/** The local-path provisioner's config: where volumes live on each node, and the helper pod that makes them. */
export function localPathConfig(model: ClusterModel): Record<string, string> {
  const cfg = model.addons.storage.localPath;
  const helperPod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "helper-pod" },
    spec: {
      priorityClassName: "system-node-critical",
      tolerations: [{ key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule" }],
      containers: [{ name: "helper-pod", image: addonImage(model, cfg.helperImage), imagePullPolicy: "IfNotPresent" }],
    },
  };
  return {
    "config.json": JSON.stringify({ nodePathMap: [{ node: "DEFAULT_PATH_FOR_NON_LISTED_NODES", paths: [cfg.path] }] }, null, 2),
    setup: '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n',
    teardown: '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n',
    "helperPod.yaml": stringify(helperPod),
  };
}

function planLocalPath(model: ClusterModel): AddonPlan {
  const ns = LOCAL_PATH_NAMESPACE;
  const sa = "local-path-provisioner-service-account";
  const plan = new AddonPlan("storage");
  // Helper pods mount host directories.
  plan.add(namespace(ns, PRIVILEGED_NAMESPACE));
  plan.add(serviceAccount(ns, sa));
  plan.add(role(ns, "local-path-provisioner-role", [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "create", "patch", "update", "delete"] }]));
  plan.add(roleBinding(ns, "local-path-provisioner-bind", { kind: "Role", name: "local-path-provisioner-role" }, { namespace: ns, names: [sa] }), [
    `Role/${ns}/local-path-provisioner-role`,
  ]);
  plan.add(
    clusterRole("local-path-provisioner-role", [
      { apiGroups: [""], resources: ["nodes", "persistentvolumeclaims", "configmaps", "pods", "pods/log"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["persistentvolumes"], verbs: ["get", "list", "watch", "create", "patch", "update", "delete"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
      { apiGroups: ["storage.k8s.io"], resources: ["storageclasses"], verbs: ["get", "list", "watch"] },
    ]),
  );
  plan.add(clusterRoleBinding("local-path-provisioner-bind", "local-path-provisioner-role", ns, [sa]), ["ClusterRole/local-path-provisioner-role"]);
  plan.add(configMap(ns, "local-path-config", localPathConfig(model)));
  const labels = { app: "local-path-provisioner" };
  const provisioner = plan.add(
    deployment(
      ns,
      "local-path-provisioner",
      {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: sa,
            nodeSelector: LINUX_ONLY,
            containers: [
              {
                name: "local-path-provisioner",
                image: addonImage(model, model.addons.storage.localPath.image),
                command: ["local-path-provisioner", "--debug", "start", "--config", "/etc/config/config.json"],
                env: [fieldEnv("POD_NAMESPACE", "metadata.namespace"), { name: "CONFIG_MOUNT_PATH", value: "/etc/config/" }],
                volumeMounts: [{ name: "config-volume", mountPath: "/etc/config/" }],
              },
            ],
            volumes: [{ name: "config-volume", configMap: { name: "local-path-config" } }],
          },
        },
      },
      labels,
    ),
  );
  // Volumes are created on the node the pod is scheduled to, so binding waits for the pod.
  plan.add(storageClass("local-path", { provisioner: "rancher.io/local-path", volumeBindingMode: "WaitForFirstConsumer", isDefault: true }), [provisioner]);
  return plan;
}

function planNfs(model: ClusterModel): AddonPlan {
  const ns = NFS_NAMESPACE;
  const cfg = model.addons.storage.nfs;
  const sa = "nfs-client-provisioner";
  const provisionerName = "k8s-sigs.io/nfs-subdir-external-provisioner";
  const plan = new AddonPlan("storage");
  plan.add(namespace(ns));
  plan.add(serviceAccount(ns, sa));
  plan.add(
    clusterRole("nfs-client-provisioner-runner", [
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["persistentvolumes"], verbs: ["get", "list", "watch", "create", "delete"] },
      { apiGroups: [""], resources: ["persistentvolumeclaims"], verbs: ["get", "list", "watch", "update"] },
      { apiGroups: ["storage.k8s.io"], resources: ["storageclasses"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "update", "patch"] },
    ]),
  );
  plan.add(clusterRoleBinding("run-nfs-client-provisioner", "nfs-client-provisioner-runner", ns, [sa]), ["ClusterRole/nfs-client-provisioner-runner"]);
  plan.add(role(ns, "leader-locking-nfs-client-provisioner", [{ apiGroups: [""], resources: ["endpoints"], verbs: ["get", "list", "watch", "create", "update", "patch"] }]));
  plan.add(
    roleBinding(ns, "leader-locking-nfs-client-provisioner", { kind: "Role", name: "leader-locking-nfs-client-provisioner" }, { namespace: ns, names: [sa] }),
    [`Role/${ns}/leader-locking-nfs-client-provisioner`],
  );
  const labels = { app: "nfs-client-provisioner" };
  const provisioner = plan.add(
    deployment(
      ns,
      "nfs-client-provisioner",
      {
        replicas: 1,
        strategy: { type: "Recreate" },
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: sa,
            nodeSelector: LINUX_ONLY,
            containers: [
              {
                name: "nfs-client-provisioner",
                image: addonImage(model, cfg.image),
                env: [
                  { name: "PROVISIONER_NAME", value: provisionerName },
                  { name: "NFS_SERVER", value: cfg.server! },
                  { name: "NFS_PATH", value: cfg.path! },
                ],
                volumeMounts: [{ name: "nfs-client-root", mountPath: "/persistentvolumes" }],
              },
            ],
            volumes: [{ name: "nfs-client-root", nfs: { server: cfg.server!, path: cfg.path! } }],
          },
        },
      },
      labels,
    ),
  );
  plan.add(storageClass("nfs-client", { provisioner: provisionerName, parameters: { archiveOnDelete: "false" }, isDefault: true }), [provisioner]);
  return plan;
}
