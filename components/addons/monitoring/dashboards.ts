/**
 * Grafana dashboards of our own, kept small: each is a list of panels, each panel one or more PromQL queries.
 * The JSON is generated so that every panel shares the same layout and data source.
 */

export const DATASOURCE_UID = "prometheus";

interface Panel {
  title: string;
  /** PromQL, with the legend to show for each series. */
  queries: Array<{ expr: string; legend: string }>;
  unit?: string;
  /** "stat" shows the last value; the default is a time series. */
  kind?: "stat" | "timeseries";
}

interface DashboardSpec {
  uid: string;
  title: string;
  /** A template variable filled from label values, used in queries as $<name>. */
  variable?: { name: string; query: string };
  panels: Panel[];
}

const q = (expr: string, legend = "") => ({ expr, legend });

export const DASHBOARDS: DashboardSpec[] = [
  {
    uid: "kop-cluster",
    title: "Cluster",
    panels: [
      { title: "Ready nodes", kind: "stat", queries: [q('sum(kube_node_status_condition{condition="Ready",status="true"})')] },
      { title: "Running pods", kind: "stat", queries: [q('sum(kube_pod_status_phase{phase="Running"})')] },
      { title: "Pending pods", kind: "stat", queries: [q('sum(kube_pod_status_phase{phase="Pending"})')] },
      { title: "CPU by namespace", unit: "short", queries: [q('sum by (namespace) (rate(container_cpu_usage_seconds_total{container!=""}[5m]))', "{{namespace}}")] },
      { title: "Memory by namespace", unit: "bytes", queries: [q('sum by (namespace) (container_memory_working_set_bytes{container!=""})', "{{namespace}}")] },
      { title: "Container restarts (15m)", unit: "short", queries: [q("sum by (namespace) (increase(kube_pod_container_status_restarts_total[15m]))", "{{namespace}}")] },
      { title: "API requests by code", unit: "reqps", queries: [q("sum by (code) (rate(apiserver_request_total[5m]))", "{{code}}")] },
      {
        title: "API request latency p99",
        unit: "s",
        queries: [q('histogram_quantile(0.99, sum by (verb, le) (rate(apiserver_request_duration_seconds_bucket{verb!~"WATCH|CONNECT"}[5m])))', "{{verb}}")],
      },
    ],
  },
  {
    uid: "kop-nodes",
    title: "Nodes",
    variable: { name: "instance", query: "label_values(node_uname_info, instance)" },
    panels: [
      { title: "CPU busy", unit: "percent", queries: [q('100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle",instance=~"$instance"}[5m])))', "{{instance}}")] },
      {
        title: "Memory used",
        unit: "percent",
        queries: [q('100 * (1 - node_memory_MemAvailable_bytes{instance=~"$instance"} / node_memory_MemTotal_bytes{instance=~"$instance"})', "{{instance}}")],
      },
      { title: "Load (1m)", unit: "short", queries: [q('node_load1{instance=~"$instance"}', "{{instance}}")] },
      {
        title: "Filesystem used",
        unit: "percent",
        queries: [
          q(
            '100 * (1 - node_filesystem_avail_bytes{instance=~"$instance",fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{instance=~"$instance",fstype!~"tmpfs|overlay|squashfs"})',
            "{{instance}} {{mountpoint}}",
          ),
        ],
      },
      {
        title: "Network",
        unit: "Bps",
        queries: [
          q('sum by (instance) (rate(node_network_receive_bytes_total{instance=~"$instance",device!~"lo|veth.*|cali.*|flannel.*|cni.*|vxlan.*|tunl.*"}[5m]))', "{{instance}} in"),
          q('sum by (instance) (rate(node_network_transmit_bytes_total{instance=~"$instance",device!~"lo|veth.*|cali.*|flannel.*|cni.*|vxlan.*|tunl.*"}[5m]))', "{{instance}} out"),
        ],
      },
      { title: "Disk I/O time", unit: "percentunit", queries: [q('rate(node_disk_io_time_seconds_total{instance=~"$instance"}[5m])', "{{instance}} {{device}}")] },
    ],
  },
  {
    uid: "kop-etcd",
    title: "etcd",
    panels: [
      { title: "Has leader", kind: "stat", queries: [q("min(etcd_server_has_leader)")] },
      { title: "Leader changes (1h)", kind: "stat", queries: [q("max(increase(etcd_server_leader_changes_seen_total[1h]))")] },
      { title: "Database size", unit: "bytes", queries: [q("etcd_mvcc_db_total_size_in_bytes", "{{instance}}")] },
      {
        title: "Proposals",
        unit: "ops",
        queries: [q("sum(rate(etcd_server_proposals_committed_total[5m]))", "committed"), q("sum(rate(etcd_server_proposals_failed_total[5m]))", "failed")],
      },
      {
        title: "WAL fsync p99",
        unit: "s",
        queries: [q("histogram_quantile(0.99, sum by (instance, le) (rate(etcd_disk_wal_fsync_duration_seconds_bucket[5m])))", "{{instance}}")],
      },
      {
        title: "Backend commit p99",
        unit: "s",
        queries: [q("histogram_quantile(0.99, sum by (instance, le) (rate(etcd_disk_backend_commit_duration_seconds_bucket[5m])))", "{{instance}}")],
      },
      {
        title: "Peer round trip p99",
        unit: "s",
        queries: [q("histogram_quantile(0.99, sum by (instance, le) (rate(etcd_network_peer_round_trip_time_seconds_bucket[5m])))", "{{instance}} → {{To}}")],
      },
    ],
  },
];

/** Grafana dashboard JSON (schemaVersion 39): stats in a row of small tiles, time series two per row. */
export function dashboardJson(spec: DashboardSpec): string {
  const datasource = { type: "prometheus", uid: DATASOURCE_UID };
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  const panels = spec.panels.map((p, i) => {
    const width = p.kind === "stat" ? 4 : 12;
    const height = p.kind === "stat" ? 4 : 8;
    if (x + width > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { x, y, w: width, h: height };
    x += width;
    rowHeight = Math.max(rowHeight, height);
    return {
      id: i + 1,
      type: p.kind ?? "timeseries",
      title: p.title,
      datasource,
      gridPos,
      fieldConfig: { defaults: { unit: p.unit ?? "short" }, overrides: [] },
      options: p.kind === "stat" ? { reduceOptions: { calcs: ["lastNotNull"] } } : { legend: { displayMode: "list", placement: "bottom" } },
      targets: p.queries.map((t, j) => ({ refId: String.fromCharCode(65 + j), datasource, expr: t.expr, legendFormat: t.legend })),
    };
  });
  const templating = spec.variable
    ? [{ name: spec.variable.name, type: "query", datasource, query: spec.variable.query, refresh: 2, includeAll: true, multi: true, current: { text: "All", value: "$__all" } }]
    : [];
  return JSON.stringify(
    {
      uid: spec.uid,
      title: spec.title,
      tags: ["kubeadm-on-pulumi"],
      schemaVersion: 39,
      editable: false,
      time: { from: "now-6h", to: "now" },
      refresh: "1m",
      templating: { list: templating },
      panels,
    },
    null,
    1,
  );
}

/** Every PromQL query of the dashboards, with template variables replaced, for syntax checks. */
export function dashboardQueries(): Array<{ dashboard: string; panel: string; expr: string }> {
  return DASHBOARDS.flatMap((d) =>
    d.panels.flatMap((p) => p.queries.map((t) => ({ dashboard: d.uid, panel: p.title, expr: d.variable ? t.expr.split(`$${d.variable.name}`).join(".*") : t.expr }))),
  );
}
