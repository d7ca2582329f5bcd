import { describe, expect, it } from "vitest";
import { kubeletServingCertificates } from "../../components/addons";
import { DASHBOARDS, dashboardJson, DATASOURCE_UID } from "../../components/addons/monitoring/dashboards";
import { grafanaDatasources } from "../../components/addons/monitoring/grafana";
import { elasticsearchHeapMiB, quantityBytes } from "../../components/addons/quantity";
import { sysctls } from "../../components/host/prep";
import { devSection, haSection, model, problemsOf } from "./fixtures";

const withAddons = (addons: Record<string, unknown>, base = devSection()): Record<string, any> => ({ ...base, addons });

describe("add-on config rules: each names the key and says what to do", () => {
  it("MetalLB ranges: well-formed, outside the pod and service networks, free of host addresses and the VIP", () => {
    expect(problemsOf(withAddons({ metallb: { enabled: true, addresses: ["10.0.0.9-10.0.0.1"] } }))).toEqual([
      "cluster:addons.metallb.addresses[0]: 10.0.0.9-10.0.0.1: the first address is above the last",
    ]);
    expect(problemsOf(withAddons({ metallb: { enabled: true, addresses: ["10.96.0.0/28", "10.0.0.20-10.0.0.30"] } }))).toEqual([
      "cluster:addons.metallb.addresses[0]: 10.96.0.0/28 overlaps the service network 10.96.0.0/12",
      "cluster:addons.metallb.addresses[1]: 10.0.0.20-10.0.0.30 contains 10.0.0.21, the address of hosts[1] (w1)",
    ]);
    expect(problemsOf(withAddons({ metallb: { enabled: true, addresses: ["10.0.0.95-10.0.0.105"] } }, haSection(1)))).toEqual([
      "cluster:addons.metallb.addresses[0]: 10.0.0.95-10.0.0.105 contains 10.0.0.100, the control-plane VIP",
    ]);
    expect(problemsOf(withAddons({ metallb: { enabled: true, addresses: ["10.0.0.1-10.0.0.300"] } }))[0]).toMatch(/^cluster:addons\.metallb\.addresses\[0\]: /);
  });

  it("the gateway in hostNetwork mode must select at least one node", () => {
    expect(problemsOf(withAddons({ gateway: { enabled: true, nodeSelector: { "node.kubernetes.io/ingress": "true" } } }))).toEqual([
      "cluster:addons.gateway.nodeSelector: matches no node: set the same labels on the hosts that should serve ingress traffic (cluster:hosts[].labels)",
    ]);
    const section = withAddons({ gateway: { enabled: true, nodeSelector: { "node.kubernetes.io/ingress": "true" } } });
    section.hosts[1].labels = { "node.kubernetes.io/ingress": "true" };
    expect(() => model(section)).not.toThrow();
    expect(() => model(withAddons({ gateway: { enabled: true, nodeSelector: { "kubernetes.io/hostname": "w1" } } }))).not.toThrow();
  });

  it("refuses the keys of retired add-ons, naming what to use instead", () => {
    expect(problemsOf(withAddons({ ingressNginx: { enabled: true, mode: "hostNetwork" }, dashboard: { enabled: false } }))).toEqual([
      "cluster:addons.ingressNginx: ingress-nginx is retired upstream (no releases or security fixes since March 2026) and was removed: use cluster:addons.gateway instead " +
        "(Traefik as the Gateway API implementation, with the same enabled, mode and nodeSelector settings) and move Ingress objects to HTTPRoutes; see docs/addons.md",
      "cluster:addons.dashboard: the Kubernetes Dashboard is retired upstream and was removed: use cluster:addons.headlamp instead " +
        "(enabled; adminAccount for the admin token output, now headlampAdminToken); see docs/addons.md",
    ]);
    // Even an empty section is refused: it would silently configure nothing.
    expect(problemsOf(withAddons({ dashboard: {} }))).toEqual([expect.stringMatching(/^cluster:addons\.dashboard: the Kubernetes Dashboard is retired upstream .* use cluster:addons\.headlamp instead/)]);
    expect(() => model(withAddons({ gateway: { enabled: true, nodeSelector: {} }, headlamp: { enabled: true, adminAccount: true } }))).not.toThrow();
  });

  it("published UIs need the gateway: their HTTPRoutes attach to its Gateway", () => {
    const on = { enabled: true };
    expect(problemsOf(withAddons({ logging: { ...on, kibana: { ingressHost: "kibana.example.com" } }, monitoring: { ...on, grafana: { ingressHost: "grafana.example.com" } } }))).toEqual([
      "cluster:addons.logging.kibana.ingressHost: kibana.example.com is published as an HTTPRoute on the gateway add-on's Gateway: enable cluster:addons.gateway, or remove this key",
      "cluster:addons.monitoring.grafana.ingressHost: grafana.example.com is published as an HTTPRoute on the gateway add-on's Gateway: enable cluster:addons.gateway, or remove this key",
    ]);
    expect(() => model(withAddons({ gateway: on, monitoring: { ...on, grafana: { ingressHost: "grafana.example.com" } } }))).not.toThrow();
  });

  it("Elasticsearch needs at least 1Gi so that its heap is 512Mi", () => {
    expect(problemsOf(withAddons({ logging: { enabled: true, elasticsearch: { memoryLimit: "768Mi" } } }))).toEqual([
      "cluster:addons.logging.elasticsearch.memoryLimit: 768Mi is too little: Elasticsearch gets half as heap and needs at least 512Mi of it (use 1Gi or more)",
    ]);
  });

  it("verified kubelet certificates cannot be combined with serverTLSBootstrap: false", () => {
    const section = devSection();
    section.kubernetes.kubeletExtraConfig = { serverTLSBootstrap: false };
    expect(problemsOf(section)).toEqual([
      "cluster:addons.metricsServer.kubeletInsecureTls: is false, so metrics-server and Prometheus verify kubelet serving certificates, but cluster:kubernetes.kubeletExtraConfig.serverTLSBootstrap: false keeps them self-signed: remove that setting or opt in to kubeletInsecureTls: true",
    ]);
    section.addons = { metricsServer: { kubeletInsecureTls: true } };
    expect(() => model(section)).not.toThrow();
  });

  it("calico: blocks must fit the pod network; only the v3.28 line is accepted", () => {
    const section = devSection();
    section.kubernetes.podSubnet = "10.244.0.0/23";
    section.addons = { cni: { plugin: "calico", calico: { blockSize: 22, version: "v3.29.1" } } };
    expect(problemsOf(section)).toEqual([
      "cluster:addons.cni.calico.version: is not a calico v3.28 release like v3.28.2 (the shipped objects follow that release's manifest)",
    ]);
    section.addons.cni.calico.version = "v3.28.1";
    expect(problemsOf(section)).toEqual(["cluster:addons.cni.calico.blockSize: /22 blocks do not fit in the pod network 10.244.0.0/23"]);
  });

  it("add-on namespaces: valid names, not Kubernetes' own, not shared", () => {
    expect(problemsOf(withAddons({ logging: { namespace: "kube-system" }, monitoring: { namespace: "Monitoring" } }))).toEqual([
      'cluster:addons.logging.namespace: "kube-system" is used by Kubernetes or another add-on; the add-on owns (and deletes) its namespace',
      'cluster:addons.monitoring.namespace: "Monitoring" is not a namespace name (lower-case letters, digits and \'-\')',
    ]);
    expect(problemsOf(withAddons({ logging: { namespace: "observability" }, monitoring: { namespace: "observability" } }))).toEqual([
      'cluster:addons.monitoring.namespace: "observability" is already cluster:addons.logging.namespace; the add-on owns (and deletes) its namespace',
    ]);
  });

  it("images must name their registry so that mirror rewrites apply", () => {
    expect(problemsOf(withAddons({ monitoring: { grafana: { image: "grafana/grafana:13.3.2" } } }))).toEqual([
      'cluster:addons.monitoring.grafana.image: "grafana/grafana:13.3.2" does not start with a registry host; write it in full (e.g. docker.io/grafana/grafana:13.3.2) so cluster:mirrors.addonImageRegistries applies to it',
    ]);
    expect(() => model(withAddons({ monitoring: { grafana: { image: "localhost:5000/grafana:11" } } }))).not.toThrow();
  });

  it("route host names, removed keys and storage paths", () => {
    expect(problemsOf(withAddons({ logging: { kibana: { ingressHost: "Kibana" } }, storage: { localPath: { path: "data" } } }))).toEqual([
      'cluster:addons.logging.kibana.ingressHost: "Kibana" is not a DNS name for an HTTPRoute (e.g. grafana.example.com)',
      "cluster:addons.storage.localPath.path: is not an absolute path",
    ]);
    expect(problemsOf(withAddons({ logging: { elasticsearch: { replicas: 3 } } }))).toEqual(["cluster:addons.logging.elasticsearch.replicas: unknown key"]);
  });

  it("kubelet serving certificates are on unless the user opts out, whether or not metrics-server is enabled", () => {
    expect(kubeletServingCertificates(model(devSection()))).toBe(true);
    expect(kubeletServingCertificates(model(withAddons({ metricsServer: { enabled: false } })))).toBe(true);
    expect(kubeletServingCertificates(model(withAddons({ metricsServer: { kubeletInsecureTls: true } })))).toBe(false);
  });
});

describe("numbers derived from the config", () => {
  it("reads Kubernetes quantities", () => {
    expect(quantityBytes("2Gi")).toBe(2 * 2 ** 30);
    expect(quantityBytes("1500M")).toBe(1.5e9);
    expect(quantityBytes("512Mi")).toBe(512 * 2 ** 20);
    expect(() => quantityBytes("2GB")).toThrow(/not a Kubernetes quantity/);
  });

  it("halves the memory limit for the Elasticsearch heap, capped at 31g", () => {
    expect(elasticsearchHeapMiB("2Gi")).toBe(1024);
    expect(elasticsearchHeapMiB("64Gi")).toBe(31 * 1024);
    expect(elasticsearchHeapMiB("62Gi")).toBe(31 * 1024);
    expect(elasticsearchHeapMiB("61Gi")).toBe(31232);
  });
});

describe("the host layer prepares nodes for the add-ons", () => {
  it("sets vm.max_map_count=262144 on every node when logging is enabled, and not otherwise", () => {
    const off = model(devSection());
    for (const host of off.nodes) expect(sysctls(off, host)["vm.max_map_count"]).toBeUndefined();
    const on = model(withAddons({ logging: { enabled: true } }));
    for (const host of on.nodes) expect(sysctls(on, host)["vm.max_map_count"], host.name).toBe("262144");
  });
});

describe("Grafana provisioning", () => {
  it("points every dashboard panel at the provisioned Prometheus data source", () => {
    const datasources = grafanaDatasources(model(withAddons({ monitoring: { enabled: true } })));
    expect(datasources).toContain(`uid: ${DATASOURCE_UID}`);
    expect(datasources).toContain("url: http://prometheus.monitoring.svc:9090");
    expect(DASHBOARDS.map((d) => d.title)).toEqual(["Cluster", "Nodes", "etcd"]);
    for (const spec of DASHBOARDS) {
      const json = JSON.parse(dashboardJson(spec));
      const ids = json.panels.map((p: { id: number }) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of json.panels) {
        expect(p.datasource).toEqual({ type: "prometheus", uid: DATASOURCE_UID });
        expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
        expect(p.targets.length).toBeGreaterThan(0);
      }
    }
  });
});
