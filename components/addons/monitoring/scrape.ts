import { stringify } from "yaml";
import type { ClusterModel } from "../../config";
import { kubeletServingCertificates } from "../csr-approver";

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const inCluster = { authorization: { credentials_file: `${SA_DIR}/token` } };

/** Where etcd serves plain-HTTP metrics: kubeadm's --listen-metrics-urls port on each member. */
export const ETCD_METRICS_PORT = 2381;
export const KUBE_PROXY_METRICS_PORT = 10249;

/** Scrape targets of the control-plane components (the kubeadm configuration opens their bind addresses). */
export function controlPlaneTargets(model: ClusterModel): { etcd: string[]; controllerManager: string[]; scheduler: string[] } {
  const etcdHosts = model.etcd.topology === "external" ? model.etcdMembers : model.controlPlanes;
  return {
    etcd: etcdHosts.map((h) => `${h.internalAddress}:${ETCD_METRICS_PORT}`),
    controllerManager: model.controlPlanes.map((h) => `${h.internalAddress}:10257`),
    scheduler: model.controlPlanes.map((h) => `${h.internalAddress}:10259`),
  };
}

/** prometheus.yml: API servers, kubelets and cAdvisor, kube-proxy, the exporters, CoreDNS, etcd, controller-manager, scheduler. */
export function prometheusConfig(model: ClusterModel): string {
  const ns = model.addons.monitoring.namespace;
  const targets = controlPlaneTargets(model);
  // kubelets present certificates signed by the cluster CA when serving certificates are on; else self-signed ones.
  const kubeletTls = { ca_file: `${SA_DIR}/ca.crt`, ...(kubeletServingCertificates(model) ? {} : { insecure_skip_verify: true }) };
  // controller-manager and scheduler serve self-signed certificates made at start-up.
  const selfSigned = { insecure_skip_verify: true };
  const serviceEndpoints = (job: string, namespace: string, service: string, port: string, extra: object = {}) => ({
    job_name: job,
    kubernetes_sd_configs: [{ role: "endpoints", namespaces: { names: [namespace] } }],
    relabel_configs: [
      { source_labels: ["__meta_kubernetes_service_name", "__meta_kubernetes_endpoint_port_name"], regex: `${service};${port}`, action: "keep" },
      { source_labels: ["__meta_kubernetes_pod_node_name"], target_label: "node" },
    ],
    ...extra,
  });
  const config = {
    global: { scrape_interval: "30s", evaluation_interval: "30s", external_labels: { cluster: model.name } },
    rule_files: ["/etc/prometheus/rules/*.yml"],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`alertmanager.${ns}.svc:9093`] }] }] },
    scrape_configs: [
      { job_name: "prometheus", static_configs: [{ targets: ["localhost:9090"] }] },
      { job_name: "alertmanager", static_configs: [{ targets: [`alertmanager.${ns}.svc:9093`] }] },
      {
        job_name: "apiserver",
        scheme: "https",
        kubernetes_sd_configs: [{ role: "endpoints", namespaces: { names: ["default"] } }],
        tls_config: { ca_file: `${SA_DIR}/ca.crt` },
        ...inCluster,
        relabel_configs: [
          { source_labels: ["__meta_kubernetes_service_name", "__meta_kubernetes_endpoint_port_name"], regex: "kubernetes;https", action: "keep" },
        ],
      },
      ...[
        ["kubelet", "/metrics"],
        ["cadvisor", "/metrics/cadvisor"],
      ].map(([job, path]) => ({
        job_name: job,
        scheme: "https",
        metrics_path: path,
        kubernetes_sd_configs: [{ role: "node" }],
        tls_config: kubeletTls,
        ...inCluster,
        relabel_configs: [{ source_labels: ["__meta_kubernetes_node_name"], target_label: "node" }],
      })),
      {
        ...serviceEndpoints("node-exporter", ns, "node-exporter", "metrics"),
        relabel_configs: [
          { source_labels: ["__meta_kubernetes_service_name", "__meta_kubernetes_endpoint_port_name"], regex: "node-exporter;metrics", action: "keep" },
          // One series per node, named like the node.
          { source_labels: ["__meta_kubernetes_endpoint_node_name"], target_label: "instance" },
        ],
      },
      {
        // kube-proxy's metrics listen on every node's 10249 once the kubeadm configuration opens them.
        job_name: "kube-proxy",
        kubernetes_sd_configs: [{ role: "node" }],
        relabel_configs: [
          { source_labels: ["__meta_kubernetes_node_address_InternalIP"], target_label: "__address__", replacement: `$1:${KUBE_PROXY_METRICS_PORT}` },
          { source_labels: ["__meta_kubernetes_node_name"], target_label: "node" },
        ],
      },
      { ...serviceEndpoints("kube-state-metrics", ns, "kube-state-metrics", "http-metrics"), honor_labels: true },
      serviceEndpoints("coredns", "kube-system", "kube-dns", "metrics"),
      { job_name: "etcd", static_configs: [{ targets: targets.etcd }] },
      { job_name: "kube-controller-manager", scheme: "https", tls_config: selfSigned, ...inCluster, static_configs: [{ targets: targets.controllerManager }] },
      { job_name: "kube-scheduler", scheme: "https", tls_config: selfSigned, ...inCluster, static_configs: [{ targets: targets.scheduler }] },
    ],
  };
  return stringify(config);
}

interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  severity: "warning" | "critical";
  summary: string;
}

/** A few alerts that matter on any cluster; Alertmanager routes them (no receivers are configured by default). */
export const ALERTS: AlertRule[] = [
  { alert: "TargetDown", expr: "up == 0", for: "10m", severity: "warning", summary: "{{ $labels.job }} target {{ $labels.instance }} is down" },
  {
    alert: "NodeNotReady",
    expr: 'kube_node_status_condition{condition="Ready",status="true"} == 0',
    for: "5m",
    severity: "critical",
    summary: "node {{ $labels.node }} is not Ready",
  },
  {
    alert: "NodeFilesystemAlmostFull",
    expr: 'node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"} < 0.10',
    for: "15m",
    severity: "warning",
    summary: "{{ $labels.instance }}: less than 10% free on {{ $labels.mountpoint }}",
  },
  {
    alert: "NodeMemoryPressure",
    expr: "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.05",
    for: "10m",
    severity: "warning",
    summary: "{{ $labels.instance }}: less than 5% memory available",
  },
  {
    alert: "PodCrashLooping",
    expr: "increase(kube_pod_container_status_restarts_total[15m]) > 3",
    for: "5m",
    severity: "warning",
    summary: "{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) restarts repeatedly",
  },
  { alert: "EtcdNoLeader", expr: "etcd_server_has_leader == 0", for: "1m", severity: "critical", summary: "etcd member {{ $labels.instance }} has no leader" },
  {
    alert: "EtcdDatabaseLarge",
    expr: "etcd_mvcc_db_total_size_in_bytes / etcd_server_quota_backend_bytes > 0.8",
    for: "10m",
    severity: "warning",
    summary: "etcd member {{ $labels.instance }} uses more than 80% of its space quota",
  },
];

export function prometheusRules(): string {
  return stringify({
    groups: [
      {
        name: "kubeadm-on-pulumi",
        rules: ALERTS.map((a) => ({ alert: a.alert, expr: a.expr, for: a.for, labels: { severity: a.severity }, annotations: { summary: a.summary } })),
      },
    ],
  });
}

/** Alertmanager's configuration: alerts are grouped and kept (visible in its UI); add receivers to notify. */
export function alertmanagerConfig(): string {
  return stringify({
    route: { receiver: "default", group_by: ["alertname", "namespace"], group_wait: "30s", group_interval: "5m", repeat_interval: "4h" },
    receivers: [{ name: "default" }],
  });
}
