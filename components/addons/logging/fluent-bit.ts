import type { input } from "@pulumi/kubernetes/types";
import type { ClusterModel } from "../../config";
import { addonImage } from "../images";
import { clusterRole, clusterRoleBinding, configMap, daemonSet, hostPathVolume, LINUX_ONLY, secretEnv, serviceAccount, TOLERATE_ALL, type AddonPlan } from "../manifest";
import { CREDENTIALS, FLUENT_BIT_USER } from "./elasticsearch";

/** Fluent Bit's configuration: tail every container log, add Kubernetes metadata, ship to Elasticsearch. */
export function fluentBitConfig(model: ClusterModel): string {
  const section = (name: string, entries: Array<[string, string]>) =>
    [`[${name}]`, ...entries.map(([k, v]) => `    ${k.padEnd(20)} ${v}`)].join("\n");
  return [
    section("SERVICE", [
      ["Flush", "5"],
      ["Log_Level", "info"],
      ["Daemon", "off"],
      ["HTTP_Server", "On"],
      ["HTTP_Listen", "0.0.0.0"],
      ["HTTP_Port", "2020"],
      ["Health_Check", "On"],
    ]),
    section("INPUT", [
      ["Name", "tail"],
      ["Tag", "kube.*"],
      ["Path", "/var/log/containers/*.log"],
      // containerd writes CRI-format lines, docker (cri-dockerd) JSON lines; both built-in parsers join split lines.
      ["multiline.parser", "cri, docker"],
      ["DB", "/var/fluent-bit/state/flb_kube.db"],
      ["Mem_Buf_Limit", "50MB"],
      ["Skip_Long_Lines", "On"],
      ["Refresh_Interval", "10"],
    ]),
    section("FILTER", [
      ["Name", "kubernetes"],
      ["Match", "kube.*"],
      ["Kube_URL", "https://kubernetes.default.svc:443"],
      ["Kube_CA_File", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"],
      ["Kube_Token_File", "/var/run/secrets/kubernetes.io/serviceaccount/token"],
      ["Kube_Tag_Prefix", "kube.var.log.containers."],
      ["Merge_Log", "On"],
      ["Keep_Log", "Off"],
      ["K8S-Logging.Parser", "On"],
      ["K8S-Logging.Exclude", "On"],
    ]),
    section("OUTPUT", [
      ["Name", "es"],
      ["Match", "kube.*"],
      ["Host", `elasticsearch.${model.addons.logging.namespace}.svc`],
      ["Port", "9200"],
      ["HTTP_User", FLUENT_BIT_USER],
      // Expanded by Fluent Bit from the environment (a Secret), never written into the ConfigMap.
      ["HTTP_Passwd", "${FLUENT_BIT_PASSWORD}"],
      ["Logstash_Format", "On"],
      ["Logstash_Prefix", "logstash"],
      ["Suppress_Type_Name", "On"],
      ["Replace_Dots", "On"],
      ["Retry_Limit", "False"],
      ["Trace_Error", "On"],
    ]),
  ].join("\n\n") + "\n";
}

/** Fluent Bit on every node, reading /var/log/containers. */
export function planFluentBit(model: ClusterModel, plan: AddonPlan, elasticsearchReady: string[]): void {
  const ns = model.addons.logging.namespace;
  plan.add(serviceAccount(ns, "fluent-bit"));
  plan.add(clusterRole("fluent-bit-read", [{ apiGroups: [""], resources: ["namespaces", "pods"], verbs: ["get", "list", "watch"] }]));
  plan.add(clusterRoleBinding("fluent-bit-read", "fluent-bit-read", ns, ["fluent-bit"]), ["ClusterRole/fluent-bit-read"]);
  plan.add(configMap(ns, "fluent-bit-config", { "fluent-bit.conf": fluentBitConfig(model) }));
  const mounts: input.core.v1.VolumeMount[] = [
    { name: "varlog", mountPath: "/var/log", readOnly: true },
    { name: "state", mountPath: "/var/fluent-bit/state" },
    { name: "config", mountPath: "/fluent-bit/etc/" },
  ];
  const volumes: input.core.v1.Volume[] = [
    hostPathVolume("varlog", "/var/log"),
    hostPathVolume("state", "/var/fluent-bit/state", "DirectoryOrCreate"),
    { name: "config", configMap: { name: "fluent-bit-config" } },
  ];
  if (model.runtime.kind === "docker") {
    // /var/log/containers links into docker's own log directory.
    mounts.push({ name: "docker-containers", mountPath: "/var/lib/docker/containers", readOnly: true });
    volumes.push(hostPathVolume("docker-containers", "/var/lib/docker/containers"));
  }
  const labels = { app: "fluent-bit" };
  plan.add(
    daemonSet(
      ns,
      "fluent-bit",
      {
        selector: { matchLabels: labels },
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "fluent-bit",
            nodeSelector: LINUX_ONLY,
            tolerations: TOLERATE_ALL,
            priorityClassName: "system-node-critical",
            containers: [
              {
                name: "fluent-bit",
                image: addonImage(model, model.addons.logging.fluentBit.image),
                env: [secretEnv("FLUENT_BIT_PASSWORD", CREDENTIALS, "fluent-bit-password")],
                ports: [{ name: "http", containerPort: 2020 }],
                livenessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 10 },
                readinessProbe: { httpGet: { path: "/api/v1/health", port: "http" }, periodSeconds: 10 },
                resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                volumeMounts: mounts,
              },
            ],
            volumes,
          },
        },
      },
      labels,
    ),
    elasticsearchReady,
  );
}
