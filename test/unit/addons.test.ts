import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { addonImage, planAddons } from "../../components/addons";
import { forEachAddonImage } from "../../components/config/validate";
import { loadStackFile, modelFromObject, type ClusterModel } from "../../components/config";
import { contains, parseCidr } from "../../components/config/net";
import { isSecretValue } from "../../scripts/lib/mock-program";
import {
  addonOf,
  allAddonsOn,
  ancestors,
  directDependencies,
  MOCK_PASSWORD,
  plain,
  podImages,
  runAddons,
  secretPaths,
  stackSection,
  strings,
  UNKNOWN,
  type AddonsRun,
} from "./addons-support";

const prod = () => modelFromObject(stackSection("prod"), "prod");
async function outputValue(o: pulumi.Output<string>): Promise<{ value: string; secret: boolean }> {
  const value = await new Promise<string>((resolve) => o.apply(resolve));
  return { value, secret: await pulumi.isSecret(o) };
}

const ADDON_NAMESPACES: Record<string, string[]> = {
  cni: ["kube-system"],
  "csr-approver": ["kube-system"],
  "metrics-server": ["kube-system"],
  storage: ["local-path-storage"],
  metallb: ["metallb-system"],
  gateway: ["gateway-system"],
  logging: ["logging"],
  monitoring: ["monitoring"],
  headlamp: ["headlamp"],
};

describe.each([true, false])("add-ons under Pulumi mocks (isDryRun %s)", (preview) => {
  let cached: AddonsRun | undefined;
  const prodRun = async () => (cached ??= await runAddons(prod(), { preview }));

  it("installs every add-on the prod stack enables, each object under its add-on, in its namespace", async () => {
    const run = await prodRun();
    const addons = new Set([...run.objects.keys()].map((k) => addonOf(run, k)));
    expect([...addons].sort()).toEqual(["cni", "csr-approver", "gateway", "headlamp", "logging", "metallb", "metrics-server", "monitoring", "storage"]);
    for (const [key, r] of run.objects) {
      const ns = plain(r.inputs.metadata).namespace as string | undefined;
      if (ns) expect(ADDON_NAMESPACES[addonOf(run, key)], key).toContain(ns);
      // An add-on's own namespace is created before anything goes into it.
      if (ns && run.objects.has(`Namespace/${ns}`)) expect(directDependencies(run, key), key).toContain(`Namespace/${ns}`);
    }
    const kinds = (addon: string) => [...new Set([...run.objects.keys()].filter((k) => addonOf(run, k) === addon).map((k) => k.split("/")[0]))].sort();
    expect(kinds("cni")).toEqual(["ClusterRole", "ClusterRoleBinding", "ConfigMap", "CustomResourceDefinition", "DaemonSet", "Deployment", "PodDisruptionBudget", "ServiceAccount"]);
    expect(kinds("logging")).toEqual(["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "Deployment", "HTTPRoute", "Job", "Namespace", "Secret", "Service", "ServiceAccount", "StatefulSet"]);
    expect(kinds("gateway")).toEqual(["ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "DaemonSet", "Gateway", "GatewayClass", "Namespace", "ServiceAccount"]);
    expect(kinds("headlamp")).toEqual(["ClusterRole", "ClusterRoleBinding", "Deployment", "Namespace", "Service", "ServiceAccount"]);
    expect(kinds("metallb")).toContain("IPAddressPool");
    expect(kinds("storage")).toContain("StorageClass");
    expect(run.objects.has("DaemonSet/kube-system/calico-node")).toBe(true);
    expect(run.objects.has("DaemonSet/kube-flannel/kube-flannel-ds")).toBe(false);
  });

  it("waits for the cluster before the CNI, and for the CNI's DaemonSet before everything else", async () => {
    const run = await prodRun();
    const cni = "DaemonSet/kube-system/calico-node";
    for (const key of run.objects.keys()) {
      const all = ancestors(run, key);
      expect(all.has("cluster"), key).toBe(true);
      if (addonOf(run, key) !== "cni") expect(all.has(cni), `${key} does not wait for the CNI`).toBe(true);
    }
    expect(run.graph.result.ready.length).toBe(1);
  });

  it("starts Fluent Bit and Kibana only after Elasticsearch and its users exist", async () => {
    const run = await prodRun();
    for (const key of ["DaemonSet/logging/fluent-bit", "Deployment/logging/kibana"]) {
      expect(directDependencies(run, key)).toEqual(expect.arrayContaining(["StatefulSet/logging/elasticsearch", "Job/logging/elasticsearch-setup"]));
    }
    expect(directDependencies(run, "Job/logging/elasticsearch-setup")).toEqual(expect.arrayContaining(["StatefulSet/logging/elasticsearch", "Service/logging/elasticsearch"]));
  });

  it("provisions Grafana's data source only once Prometheus is ready", async () => {
    const run = await prodRun();
    expect(directDependencies(run, "ConfigMap/monitoring/grafana-datasources")).toEqual(
      expect.arrayContaining(["StatefulSet/monitoring/prometheus", "Service/monitoring/prometheus"]),
    );
    expect(directDependencies(run, "Deployment/monitoring/grafana")).toEqual(
      expect.arrayContaining(["ConfigMap/monitoring/grafana-datasources", "ConfigMap/monitoring/grafana-dashboards", "Secret/monitoring/grafana-admin"]),
    );
  });

  it("creates MetalLB's pool after its CRDs and controller, and the workloads after their RBAC", async () => {
    const run = await prodRun();
    expect(directDependencies(run, "IPAddressPool/metallb-system/default")).toEqual(
      expect.arrayContaining(["CustomResourceDefinition/ipaddresspools.metallb.io", "Deployment/metallb-system/controller", "DaemonSet/metallb-system/speaker"]),
    );
    expect(directDependencies(run, "L2Advertisement/metallb-system/default")).toContain("IPAddressPool/metallb-system/default");
    expect(directDependencies(run, "DaemonSet/kube-system/calico-node")).toEqual(
      expect.arrayContaining(["ServiceAccount/kube-system/calico-node", "ClusterRoleBinding/calico-node", "ConfigMap/kube-system/calico-config", "CustomResourceDefinition/ippools.crd.projectcalico.org"]),
    );
    expect(directDependencies(run, "Deployment/kube-system/metrics-server")).toContain("Deployment/kube-system/kubelet-csr-approver");
  });

  it("keeps generated secrets secret: in Secrets only, never in plain inputs, and as secret outputs", async () => {
    const run = await prodRun();
    for (const [key, r] of run.objects) {
      const paths = secretPaths(r.inputs);
      if (key.startsWith("Secret/") && (key.includes("credentials") || key.includes("grafana-admin") || key.includes("kibana-encryption") || key.includes("memberlist"))) {
        expect(paths.length, key).toBeGreaterThan(0);
      }
      if (!key.startsWith("Secret/")) {
        expect(paths, key).toEqual([]);
        expect(JSON.stringify(plain(r.inputs)), key).not.toContain(MOCK_PASSWORD);
      }
    }
    const addons = run.graph.result;
    for (const output of [addons.grafanaAdminPassword!, addons.elasticPassword!]) {
      const { value, secret } = await outputValue(output);
      expect(secret).toBe(true);
      if (!preview) expect(value).toBe(MOCK_PASSWORD);
    }
  });
});

describe("mirrors: every add-on image goes through cluster:mirrors.addonImageRegistries", () => {
  const UPSTREAM = ["docker.io/", "quay.io/", "registry.k8s.io/", "ghcr.io/", "docker.elastic.co/", "cr.fluentbit.io/"];
  for (const cni of ["flannel", "calico"]) {
    it(`leaves no default registry in any object of the china stack with every add-on on (${cni})`, async () => {
      const section = allAddonsOn(stackSection("china"));
      section.addons.cni = { plugin: cni };
      const model = modelFromObject(section, "china");
      const run = await runAddons(model, { preview: false });
      const images = [...run.objects.values()].flatMap((r) => podImages(r.inputs));
      expect(images.length).toBeGreaterThan(15);
      const targets = Object.values(model.mirrors.addonImageRegistries);
      for (const image of images) expect(targets.some((t) => image.startsWith(`${t}/`)), image).toBe(true);
      for (const [key, r] of run.objects) {
        for (const s of strings(r.inputs)) {
          for (const upstream of UPSTREAM) expect(s.value.includes(upstream), `${key} ${s.path}: ${s.value.slice(0, 120)}`).toBe(false);
        }
      }
    });
  }

  it("rewrites by the longest matching registry prefix and leaves other registries alone", () => {
    const section = stackSection("dev");
    section.mirrors = { addonImageRegistries: { "docker.io": "mirror.example.com/hub", "docker.io/calico": "calico-mirror.example.com" } };
    const m = modelFromObject(section);
    expect(addonImage(m, "docker.io/grafana/grafana:13.3.2")).toBe("mirror.example.com/hub/grafana/grafana:13.3.2");
    expect(addonImage(m, "docker.io/calico/node:v3.28.2")).toBe("calico-mirror.example.com/node:v3.28.2");
    expect(addonImage(m, "quay.io/prometheus/prometheus:v2.54.1")).toBe("quay.io/prometheus/prometheus:v2.54.1");
    expect(addonImage(m, "docker.iox/a:b")).toBe("docker.iox/a:b");
  });

  it("pins every default image to a version (no latest, no bare names)", () => {
    const m = modelFromObject(allAddonsOn(stackSection("dev")));
    forEachAddonImage(m.addons, (path, ref) => {
      if (path.at(-1) === "imagePrefix") return;
      expect(ref, path.join(".")).toMatch(/:(v?\d+\.\d+[\w.-]*)$/);
    });
  });
});

describe("switching add-ons", () => {
  /** Resources (by URN) and their inputs. */
  const snapshot = (run: AddonsRun) => new Map(run.graph.custom.map((r) => [r.urn, JSON.stringify(r.inputs)]));
  const base = () => {
    const s = allAddonsOn(stackSection("prod"));
    s.addons.gateway.mode = "hostNetwork";
    // Published UIs are routes on the Gateway; switching the gateway off is only allowed without them.
    delete s.addons.logging.kibana;
    delete s.addons.monitoring.grafana;
    return s;
  };
  const switches: Array<[string, (s: Record<string, any>) => void]> = [
    ["metrics-server", (s) => (s.addons.metricsServer.enabled = false)],
    ["logging", (s) => (s.addons.logging.enabled = false)],
    ["monitoring", (s) => (s.addons.monitoring.enabled = false)],
    ["gateway", (s) => (s.addons.gateway.enabled = false)],
    ["metallb", (s) => (s.addons.metallb.enabled = false)],
    ["headlamp", (s) => (s.addons.headlamp.enabled = false)],
  ];
  it.each(switches)("turning %s off removes exactly its objects and secrets, and changes nothing else", async (addon, off) => {
    const before = await runAddons(modelFromObject(base(), "prod"), { preview: false });
    const section = base();
    off(section);
    const after = await runAddons(modelFromObject(section, "prod"), { preview: false });
    const a = snapshot(before);
    const b = snapshot(after);
    const removed = [...a.keys()].filter((u) => !b.has(u));
    const component = before.graph.resources.find((r) => r.name === addon && r.type.startsWith("kop:addons:"))!;
    const owned = before.graph.custom.filter((r) => r.parent === component.urn).map((r) => r.urn);
    expect(owned.length).toBeGreaterThan(0);
    expect(removed.sort()).toEqual(owned.sort());
    expect([...b.keys()].filter((u) => !a.has(u))).toEqual([]);
    expect([...b.keys()].filter((u) => a.get(u) !== b.get(u))).toEqual([]);
  });

  it("storage: one default StorageClass, from the chosen provisioner; none with provisioner none", async () => {
    const defaults = async (provisioner: string, extra: object = {}) => {
      const s = stackSection("dev");
      s.addons = { storage: { provisioner, ...extra } };
      const run = await runAddons(modelFromObject(s), { preview: false });
      return [...run.objects].filter(([k, r]) => k.startsWith("StorageClass/") && plain(r.inputs.metadata).annotations?.["storageclass.kubernetes.io/is-default-class"] === "true").map(([k]) => k);
    };
    expect(await defaults("local-path")).toEqual(["StorageClass/local-path"]);
    expect(await defaults("nfs", { nfs: { server: "10.0.0.50", path: "/exports/k8s" } })).toEqual(["StorageClass/nfs-client"]);
    expect(await defaults("none")).toEqual([]);
  });
});

describe("a brand-new stack: preview before the cluster exists", () => {
  it("declares every object with full inputs; only generated secrets are unknown, and only inside Secrets", async () => {
    const model = modelFromObject(allAddonsOn(stackSection("prod")), "prod");
    const fresh = await runAddons(model, { preview: true, newStack: true });
    const existing = await runAddons(model, { preview: false });
    expect([...fresh.objects.keys()].sort()).toEqual([...existing.objects.keys()].sort());
    for (const [key, r] of fresh.objects) {
      const unknown = strings(r.inputs).filter((s) => s.value === UNKNOWN);
      if (key.startsWith("Secret/")) for (const u of unknown) expect(u.path, key).toMatch(/^stringData(\.|$)/);
      else expect(unknown, key).toEqual([]);
      if (!key.startsWith("Secret/")) expect(JSON.stringify(r.inputs)).toBe(JSON.stringify(existing.objects.get(key)!.inputs));
    }
    // The provider's kubeconfig is unknown too: nothing is read from the cluster to declare the objects.
    const provider = fresh.graph.resources.find((r) => r.type === "pulumi:providers:kubernetes")!;
    expect(JSON.stringify(provider.inputs)).toContain(UNKNOWN);
  });
});

describe("add-on objects from the model", () => {
  const objects = (model: ClusterModel) => {
    const plans = planAddons(model, {
      logging: { elasticPassword: "e", kibanaSystemPassword: "k", fluentBitPassword: "f", kibanaEncryptionKey: "x" },
      monitoring: { grafanaAdminPassword: "g" },
      metallb: { memberlistKey: "m" },
    });
    return new Map(plans.flatMap((p) => p.objects.map((o) => [o.key, o.manifest as any])));
  };
  const container = (o: any, name: string) => [...(o.spec.template.spec.initContainers ?? []), ...o.spec.template.spec.containers].find((c: any) => c.name === name);
  const env = (c: any) => Object.fromEntries((c.env ?? []).filter((e: any) => "value" in e).map((e: any) => [e.name, e.value]));

  it("flannel: pod CIDR and backend from the config, vxlan by default, on the node's InternalIP", () => {
    const s = stackSection("dev");
    s.kubernetes.podSubnet = "10.50.0.0/16";
    let o = objects(modelFromObject(s));
    expect(JSON.parse(o.get("ConfigMap/kube-flannel/kube-flannel-cfg").data["net-conf.json"])).toEqual({ Network: "10.50.0.0/16", EnableNFTables: false, Backend: { Type: "vxlan" } });
    expect(container(o.get("DaemonSet/kube-flannel/kube-flannel-ds"), "kube-flannel").args).toContain("--iface=$(NODE_IP)");
    s.addons = { cni: { flannel: { backend: "host-gw" } } };
    o = objects(modelFromObject(s));
    expect(JSON.parse(o.get("ConfigMap/kube-flannel/kube-flannel-cfg").data["net-conf.json"]).Backend).toEqual({ Type: "host-gw" });
  });

  it.each([
    ["IPIP", "Always", "Never", "bird"],
    ["IPIPCrossSubnet", "CrossSubnet", "Never", "bird"],
    ["VXLAN", "Never", "Always", "vxlan"],
    ["VXLANCrossSubnet", "Never", "CrossSubnet", "bird"],
    ["None", "Never", "Never", "bird"],
  ])("calico %s: IP pool from the pod CIDR with IPIP %s, VXLAN %s, backend %s", (encapsulation, ipip, vxlan, backend) => {
    const s = stackSection("prod");
    s.addons.cni = { plugin: "calico", calico: { encapsulation } };
    const o = objects(modelFromObject(s, "prod"));
    const node = container(o.get("DaemonSet/kube-system/calico-node"), "calico-node");
    expect(env(node)).toMatchObject({ CALICO_IPV4POOL_CIDR: "10.244.0.0/16", CALICO_IPV4POOL_IPIP: ipip, CALICO_IPV4POOL_VXLAN: vxlan, IP_AUTODETECTION_METHOD: "kubernetes-internal-ip" });
    expect(o.get("ConfigMap/kube-system/calico-config").data.calico_backend).toBe(backend);
    expect(node.readinessProbe.exec.command.includes("-bird-ready")).toBe(backend === "bird");
    expect(node.image).toBe("docker.io/calico/node:v3.28.2");
    // install-cni substitutes a number for the MTU placeholder.
    expect(o.get("ConfigMap/kube-system/calico-config").data.cni_network_config).toContain('"mtu": __CNI_MTU__,');
  });

  it("metrics-server: --kubelet-insecure-tls only on opt-in; verified kubelets get the CSR approver instead", () => {
    const dev = objects(loadStackFile("dev"));
    const args = container(dev.get("Deployment/kube-system/metrics-server"), "metrics-server").args;
    expect(args).not.toContain("--kubelet-insecure-tls");
    expect(args).toContain("--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname");
    const approver = env(container(dev.get("Deployment/kube-system/kubelet-csr-approver"), "kubelet-csr-approver"));
    expect(approver).toMatchObject({ PROVIDER_IP_PREFIXES: "192.168.56.0/24" });
    expect(new RegExp(approver.PROVIDER_REGEX).test("dev-w1")).toBe(true);
    expect(new RegExp(approver.PROVIDER_REGEX).test("Dev_W1")).toBe(false);
    const prodApprover = env(container(objects(loadStackFile("prod")).get("Deployment/kube-system/kubelet-csr-approver"), "kubelet-csr-approver"));
    expect(prodApprover.PROVIDER_IP_PREFIXES).toBe("10.20.0.0/24");
    const china = objects(loadStackFile("china"));
    expect(container(china.get("Deployment/kube-system/metrics-server"), "metrics-server").args).toContain("--kubelet-insecure-tls");
    expect(china.has("Deployment/kube-system/kubelet-csr-approver")).toBe(false);
  });

  it("Elasticsearch: heap is half the memory limit, capped at 31g; storage from the config", () => {
    const heap = (memoryLimit: string, storageClass?: string) => {
      const s = stackSection("prod");
      s.addons.logging.elasticsearch = { memoryLimit, storageSize: "100Gi", ...(storageClass ? { storageClass } : {}) };
      const sts = objects(modelFromObject(s, "prod")).get("StatefulSet/logging/elasticsearch");
      return { opts: env(container(sts, "elasticsearch")).ES_JAVA_OPTS, claim: sts.spec.volumeClaimTemplates[0].spec };
    };
    expect(heap("4Gi").opts).toBe("-Xms2048m -Xmx2048m");
    expect(heap("3G").opts).toBe("-Xms1430m -Xmx1430m");
    expect(heap("100Gi").opts).toBe("-Xms31744m -Xmx31744m");
    expect(heap("4Gi").claim).toEqual({ accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "100Gi" } } });
    expect(heap("4Gi", "fast-ssd").claim.storageClassName).toBe("fast-ssd");
  });

  it("headlamp: read-only logins by default; cluster-admin and the token output only for the opt-in admin account", async () => {
    const s = stackSection("prod");
    let o = objects(modelFromObject(s, "prod"));
    expect(o.get("ClusterRoleBinding/headlamp-viewer").roleRef.name).toBe("view");
    const clusterRead = o.get("ClusterRole/headlamp-viewer-cluster");
    for (const rule of clusterRead.rules) expect(rule.verbs, JSON.stringify(rule)).toEqual(["get", "list", "watch"]);
    expect(clusterRead.rules.flatMap((r: any) => r.resources)).not.toContain("secrets");
    expect(o.has("ClusterRoleBinding/headlamp-admin")).toBe(false);
    expect(o.has("Secret/headlamp/headlamp-admin-token")).toBe(false);
    // Headlamp's own service account has no role: it acts with the token a person logs in with.
    for (const [key, b] of o) if (key.includes("Binding/")) for (const subject of b.subjects) expect(subject.name, key).not.toBe("headlamp");
    const plainRun = await runAddons(modelFromObject(s, "prod"), { preview: false });
    expect(plainRun.graph.result.headlampAdminToken).toBeUndefined();

    s.addons.headlamp.adminAccount = true;
    o = objects(modelFromObject(s, "prod"));
    expect(o.get("ClusterRoleBinding/headlamp-admin").subjects).toEqual([{ kind: "ServiceAccount", name: "headlamp-admin", namespace: "headlamp" }]);
    for (const [key, b] of o) {
      if (!key.startsWith("ClusterRoleBinding/") && !key.startsWith("RoleBinding/")) continue;
      for (const subject of b.subjects) expect(subject.name, key).not.toBe("default");
      if (b.roleRef.name === "cluster-admin") expect(key).toBe("ClusterRoleBinding/headlamp-admin");
    }
    const run = await runAddons(modelFromObject(s, "prod"), { preview: false });
    const token = await outputValue(run.graph.result.headlampAdminToken!);
    expect(token).toEqual({ value: "admin-token", secret: true });
  });

  it.each([
    ["hostNetwork", false],
    ["hostNetwork", true],
    ["loadBalancer", false],
    ["loadBalancer", true],
  ])("gateway %s (TLS %s): Traefik serves the Gateway's listeners on the chosen nodes or behind MetalLB", (mode, tls) => {
    const s = stackSection("prod");
    s.addons.gateway = { ...s.addons.gateway, mode, ...(tls ? { tlsSecretName: "wildcard-tls" } : {}) };
    const o = objects(modelFromObject(s, "prod"));
    const workload = o.get(mode === "hostNetwork" ? "DaemonSet/gateway-system/traefik" : "Deployment/gateway-system/traefik");
    const pod = workload.spec.template.spec;
    expect(pod.hostNetwork === true).toBe(mode === "hostNetwork");
    expect(pod.nodeSelector).toEqual({ "kubernetes.io/os": "linux", "node.kubernetes.io/ingress": "true" });
    const args = container(workload, "traefik").args as string[];
    expect(args).toContain("--providers.kubernetesgateway=true");
    expect(args.includes("--entryPoints.websecure.address=:443")).toBe(tls);
    expect(o.has("Service/gateway-system/traefik")).toBe(mode === "loadBalancer");
    if (mode === "loadBalancer") expect(o.get("Service/gateway-system/traefik").spec.type).toBe("LoadBalancer");
    expect(o.get("GatewayClass/traefik").spec).toEqual({ controllerName: "traefik.io/gateway-controller" });
    const listeners = o.get("Gateway/gateway-system/default").spec.listeners;
    expect(listeners.map((l: any) => `${l.protocol}:${l.port}`)).toEqual(tls ? ["HTTP:80", "HTTPS:443"] : ["HTTP:80"]);
    // Each listener port is one Traefik listens on (Traefik matches listeners to entry points by port).
    for (const l of listeners) expect(args.some((a) => a.endsWith(`.address=:${l.port}`)), l.name).toBe(true);
    expect([...o.keys()].filter((k) => k.startsWith("CustomResourceDefinition/") && k.endsWith(".gateway.networking.k8s.io")).sort()).toEqual(
      ["backendtlspolicies", "gatewayclasses", "gateways", "grpcroutes", "httproutes", "listenersets", "referencegrants", "tlsroutes"].map((p) => `CustomResourceDefinition/${p}.gateway.networking.k8s.io`),
    );
  });

  it("publishes Grafana and Kibana as HTTPRoutes on the Gateway, created after it", async () => {
    const run = await runAddons(prod(), { preview: false });
    const route = plain(run.objects.get("HTTPRoute/monitoring/grafana")!.inputs);
    expect(route.spec.parentRefs).toEqual([{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "gateway-system", name: "default" }]);
    expect(route.spec.hostnames).toEqual(["grafana.prod.example.internal"]);
    expect(route.spec.rules[0].backendRefs).toEqual([{ group: "", kind: "Service", name: "grafana", port: 80 }]);
    for (const key of ["HTTPRoute/monitoring/grafana", "HTTPRoute/logging/kibana"]) {
      expect(directDependencies(run, key)).toEqual(expect.arrayContaining(["Gateway/gateway-system/default", "CustomResourceDefinition/httproutes.gateway.networking.k8s.io"]));
    }
  });

  it("stack outputs say where the UIs are and which outputs hold their passwords", async () => {
    const s = stackSection("prod");
    s.addons.monitoring.grafana = { ingressHost: "grafana.prod.example.internal" };
    const run = await runAddons(modelFromObject(s, "prod"), { preview: false });
    expect(run.graph.result.access).toEqual({
      grafana: {
        url: "http://grafana.prod.example.internal/",
        portForward: "kubectl -n monitoring port-forward svc/grafana 3000:80",
        localUrl: "http://localhost:3000/",
        user: "admin",
        passwordOutput: "grafanaAdminPassword",
      },
      kibana: {
        url: "http://kibana.prod.example.internal/",
        portForward: "kubectl -n logging port-forward svc/kibana 5601:5601",
        localUrl: "http://localhost:5601/",
        user: "elastic",
        passwordOutput: "elasticPassword",
      },
      headlamp: {
        portForward: "kubectl -n headlamp port-forward svc/headlamp 4466:80",
        localUrl: "http://localhost:4466/",
        viewerToken: "kubectl -n headlamp create token headlamp-viewer",
      },
    });
    expect(run.objects.get("HTTPRoute/monitoring/grafana")).toBeDefined();
    expect(isSecretValue(run.objects.get("Secret/monitoring/grafana-admin")!.inputs.stringData) || secretPaths(run.objects.get("Secret/monitoring/grafana-admin")!.inputs).length > 0).toBe(true);
  });

  it("keeps the cluster DNS address inside the service network on every stack", () => {
    for (const stack of ["dev", "prod", "china"]) {
      const m = loadStackFile(stack);
      expect(contains(parseCidr(m.kubernetes.serviceSubnet)!, m.kubernetes.clusterDns), stack).toBe(true);
    }
  });

  it("scrapes the control-plane components at the addresses kubeadm opens", () => {
    const s = stackSection("prod");
    const config = objects(modelFromObject(s, "prod")).get("ConfigMap/monitoring/prometheus-config").data["prometheus.yml"] as string;
    for (const target of ["10.20.0.31:2381", "10.20.0.11:10257", "10.20.0.13:10259"]) expect(config).toContain(target);
  });
});
