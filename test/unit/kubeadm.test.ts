import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { loadStackFile, type ClusterModel } from "../../components/config";
import { externalEtcd } from "../../components/etcd/plan";
import {
  certSANs,
  clusterConfiguration,
  convergeDigest,
  extraArgs,
  initConfiguration,
  initSecretsBlock,
  joinConfiguration,
  kubeletConfiguration,
  kubeletLogSize,
  kubeProxyConfiguration,
  nodeTaints,
  renderControlPlaneConfig,
  SECRET_PLACEHOLDERS,
} from "../../components/kubeadm/config";
import { kubeadmConfigFiles, teardownLines } from "../../components/kubeadm/steps";
import { renderControlPlaneUpgrade, renderFirstControlPlaneUpgrade } from "../../components/lifecycle/upgrade";
import { devSection, haSection, model } from "./fixtures";

const host = (m: ClusterModel, name: string) => m.hosts.find((h) => h.name === name)!;
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Record<string, any>);
const at = (section: Record<string, any>, version: string) => {
  section.kubernetes = { ...section.kubernetes, version };
  return model(section);
};

describe("kubeadm configuration renderer", () => {
  it("reproduces the guide this project grew from (stacks/Pulumi.china.yaml), at 1.35", () => {
    const m = loadStackFile("china");
    const [init, cluster, kubelet, proxy] = docs(renderControlPlaneConfig(m, m.controlPlanes[0], undefined));
    expect(init).toMatchObject({
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "InitConfiguration",
      localAPIEndpoint: { advertiseAddress: "192.168.10.11", bindPort: 6443 },
      nodeRegistration: { name: "k8s-master1", criSocket: "unix:///run/containerd/containerd.sock", kubeletExtraArgs: [{ name: "node-ip", value: "192.168.10.11" }] },
    });
    expect(cluster).toEqual({
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "ClusterConfiguration",
      clusterName: "guide",
      kubernetesVersion: "v1.35.4",
      controlPlaneEndpoint: "cluster-endpoint:8443",
      imageRepository: "registry.aliyuncs.com/google_containers",
      networking: { podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12", dnsDomain: "cluster.local" },
      apiServer: {
        certSANs: ["cluster-endpoint", "192.168.10.100", "k8s-master1", "192.168.10.11", "k8s-master2", "192.168.10.12", "k8s-master3", "192.168.10.13"],
      },
      etcd: { local: { dataDir: "/var/lib/etcd" } },
    });
    expect(kubelet).toMatchObject({ kind: "KubeletConfiguration", cgroupDriver: "systemd", clusterDNS: ["10.96.0.10"], clusterDomain: "cluster.local" });
    expect(proxy).toEqual({ apiVersion: "kubeproxy.config.k8s.io/v1alpha1", kind: "KubeProxyConfiguration", mode: "ipvs", clusterCIDR: "10.244.0.0/16" });
  });

  it("chooses the kubeadm API by version: v1beta3 up to 1.30 (extraArgs maps), v1beta4 from 1.31 (lists of name/value)", () => {
    const section = devSection();
    section.kubernetes.apiServerExtraArgs = { "audit-log-maxage": "30", "anonymous-auth": "false" };
    const v3 = at(section, "1.30.9");
    const v4 = at(devSection(), "1.31.4");
    const v4args = model({ ...devSection(), kubernetes: { version: "1.31.4", apiServerExtraArgs: { "audit-log-maxage": "30", "anonymous-auth": "false" } } });
    expect(clusterConfiguration(v3, undefined).apiVersion).toBe("kubeadm.k8s.io/v1beta3");
    expect((clusterConfiguration(v3, undefined).apiServer as any).extraArgs).toEqual({ "anonymous-auth": "false", "audit-log-maxage": "30" });
    expect(clusterConfiguration(v4, undefined).apiVersion).toBe("kubeadm.k8s.io/v1beta4");
    expect((clusterConfiguration(v4args, undefined).apiServer as any).extraArgs).toEqual([
      { name: "anonymous-auth", value: "false" },
      { name: "audit-log-maxage", value: "30" },
    ]);
    expect((initConfiguration(v4, host(v4, "cp1")).nodeRegistration as any).kubeletExtraArgs).toEqual([{ name: "node-ip", value: "10.0.0.11" }]);
    expect((joinConfiguration(v3, host(v3, "w1")).nodeRegistration as any).kubeletExtraArgs).toEqual({ "node-ip": "10.0.0.21" });
    expect(extraArgs("kubeadm.k8s.io/v1beta4", {})).toEqual([]);
  });

  it("opens the control-plane metrics endpoints only when monitoring is enabled; the user's extraArgs still win", () => {
    const off = model(haSection(1));
    expect(clusterConfiguration(off, undefined)).not.toHaveProperty("controllerManager");
    expect(kubeProxyConfiguration(off)).not.toHaveProperty("metricsBindAddress");
    expect((clusterConfiguration(off, undefined).etcd as any).local).toEqual({ dataDir: "/var/lib/etcd" });

    const section = haSection(1);
    section.addons = { monitoring: { enabled: true } };
    section.kubernetes.schedulerExtraArgs = { "bind-address": "127.0.0.1" };
    const on = model(section);
    const cluster = clusterConfiguration(on, undefined) as any;
    expect(cluster.controllerManager.extraArgs).toEqual({ "bind-address": "0.0.0.0" });
    expect(cluster.scheduler.extraArgs).toEqual({ "bind-address": "127.0.0.1" });
    expect(cluster.etcd.local.extraArgs).toEqual({ "listen-metrics-urls": "http://0.0.0.0:2381" });
    expect(kubeProxyConfiguration(on).metricsBindAddress).toBe("0.0.0.0:10249");
  });

  it("points kubeadm at the external etcd cluster of the etcd layer (prod stack)", () => {
    const m = loadStackFile("prod");
    const etcd = clusterConfiguration(m, externalEtcd(m)).etcd as any;
    expect(etcd).toEqual({
      external: {
        endpoints: ["https://10.20.0.31:2379", "https://10.20.0.32:2379", "https://10.20.0.33:2379"],
        caFile: "/etc/kubernetes/pki/etcd/ca.crt",
        certFile: "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        keyFile: "/etc/kubernetes/pki/apiserver-etcd-client.key",
      },
    });
    expect(() => clusterConfiguration(m, undefined)).toThrow(/external/);
  });

  it("uses cri-dockerd's socket with docker, containerd's otherwise", () => {
    const section = devSection();
    section.runtime = { kind: "docker" };
    const docker = model(section);
    expect((joinConfiguration(docker, host(docker, "w1")).nodeRegistration as any).criSocket).toBe("unix:///run/cri-dockerd.sock");
    expect((initConfiguration(docker, host(docker, "cp1")).nodeRegistration as any).criSocket).toBe("unix:///run/cri-dockerd.sock");
  });

  it("sets taints explicitly: control planes get the control-plane taint unless they also run workloads", () => {
    const section = haSection(1);
    section.hosts[3].roles = ["control-plane", "worker"];
    section.hosts[5].taints = [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }];
    const m = model(section);
    expect(nodeTaints(host(m, "cp1"))).toEqual([{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }]);
    expect(nodeTaints(host(m, "cp2"))).toEqual([]);
    expect(nodeTaints(host(m, "w1"))).toEqual([{ key: "dedicated", value: "gpu", effect: "NoSchedule" }]);
    expect((joinConfiguration(m, host(m, "cp2")).nodeRegistration as any).taints).toEqual([]);
  });

  it("puts the endpoint, the VIP, every control plane and the extras into the API server certificate", () => {
    const section = haSection(0);
    section.hosts[2].internalAddress = "10.0.0.11";
    section.hosts[2].address = "203.0.113.11";
    section.kubernetes.certSANs = ["api.example.com", "k8s-api.test"];
    expect(certSANs(model(section))).toEqual([
      "k8s-api.test",
      "10.0.0.100",
      "cp1",
      "10.0.0.11",
      "203.0.113.11",
      "cp2",
      "10.0.0.12",
      "cp3",
      "10.0.0.13",
      "api.example.com",
    ]);
  });

  it("renders join configurations with secret placeholders only, and the control-plane section only for control planes", () => {
    const m = model(haSection(1));
    const worker = joinConfiguration(m, host(m, "w1")) as any;
    expect(worker.discovery.bootstrapToken).toEqual({
      apiServerEndpoint: "k8s-api.test:6443",
      token: SECRET_PLACEHOLDERS.bootstrap_token,
      caCertHashes: [SECRET_PLACEHOLDERS.ca_cert_hash],
    });
    expect(worker).not.toHaveProperty("controlPlane");
    const cp = joinConfiguration(m, host(m, "cp2")) as any;
    expect(cp.controlPlane).toEqual({ localAPIEndpoint: { advertiseAddress: "10.0.0.12", bindPort: 6443 }, certificateKey: SECRET_PLACEHOLDERS.certificate_key });
    expect(docs(initSecretsBlock())[0]).toEqual({
      bootstrapTokens: [
        {
          token: SECRET_PLACEHOLDERS.bootstrap_token,
          description: "kubeadm-on-pulumi join token",
          ttl: "24h0m0s",
          groups: ["system:bootstrappers:kubeadm:default-node-token"],
          usages: ["signing", "authentication"],
        },
      ],
      certificateKey: SECRET_PLACEHOLDERS.certificate_key,
    });
  });

  it("places kubeadm.yaml on control planes, join.yaml on joining nodes, and no secret anywhere", () => {
    const m = model(haSection(1));
    const paths = (name: string) => kubeadmConfigFiles(m, host(m, name), undefined).map((f) => f.path);
    expect(paths("cp1")).toEqual(["/etc/kubernetes/kubeadm/kubeadm.yaml", "/etc/kubernetes/kubeadm/converge.digest"]);
    expect(paths("cp2")).toEqual(["/etc/kubernetes/kubeadm/kubeadm.yaml", "/etc/kubernetes/kubeadm/join.yaml", "/etc/kubernetes/kubeadm/converge.digest"]);
    expect(paths("w1")).toEqual(["/etc/kubernetes/kubeadm/join.yaml", "/etc/kubernetes/kubeadm/converge.digest"]);
    for (const h of m.nodes) {
      for (const f of kubeadmConfigFiles(m, h, undefined)) {
        expect(f.secret).toBeUndefined();
        expect(f.mode).toBe("0600");
        expect(f.content).not.toMatch(/[a-z0-9]{6}\.[a-z0-9]{16}/);
      }
    }
  });

  it("merges kubeletExtraConfig over our kubelet settings, converts docker-style log sizes, enables signed serving certificates", () => {
    const section = devSection();
    section.kubernetes.kubeletExtraConfig = { maxPods: 150, cgroupDriver: "systemd", evictionHard: { "memory.available": "200Mi" } };
    section.kubernetes.featureGates = { GracefulNodeShutdown: true };
    section.runtime = { logMaxSize: "50m" };
    const kubelet = kubeletConfiguration(model(section));
    expect(kubelet).toMatchObject({
      maxPods: 150,
      evictionHard: { "memory.available": "200Mi" },
      containerLogMaxSize: "50Mi",
      featureGates: { GracefulNodeShutdown: true },
      serverTLSBootstrap: true,
    });
    expect(kubeletLogSize("100Mi")).toBe("100Mi");
    expect(kubeletLogSize("1g")).toBe("1Gi");
    section.addons = { metricsServer: { kubeletInsecureTls: true } };
    expect(kubeletConfiguration(model(section))).not.toHaveProperty("serverTLSBootstrap");
  });

  it("sets strictARP for MetalLB with ipvs, and feature gates on every component", () => {
    const section = devSection();
    section.kubernetes.kubeProxyMode = "ipvs";
    section.kubernetes.featureGates = { SidecarContainers: true, InPlacePodVerticalScaling: false };
    section.addons = { metallb: { enabled: true, addresses: ["10.0.0.200-10.0.0.210"] } };
    const m = model(section);
    expect(kubeProxyConfiguration(m)).toMatchObject({ mode: "ipvs", ipvs: { strictARP: true }, featureGates: { SidecarContainers: true } });
    const cluster = clusterConfiguration(m, undefined) as any;
    for (const c of ["apiServer", "controllerManager", "scheduler"]) {
      expect(cluster[c].extraArgs["feature-gates"]).toBe("SidecarContainers=true,InPlacePodVerticalScaling=false");
    }
  });

  it("allowCgroupV1 sets the kubelet's failCgroupV1: false from 1.35 (older kubelets allow v1 by default)", () => {
    const section = devSection();
    Object.assign(section.kubernetes, { version: "1.35.4", allowCgroupV1: true });
    expect(kubeletConfiguration(model(section))).toMatchObject({ failCgroupV1: false });
    section.kubernetes.allowCgroupV1 = false;
    expect(kubeletConfiguration(model(section))).not.toHaveProperty("failCgroupV1");
    Object.assign(section.kubernetes, { version: "1.34.4", allowCgroupV1: true });
    expect(kubeletConfiguration(model(section))).not.toHaveProperty("failCgroupV1");
  });

  it("allowCgroupV1 also skips kubeadm's SystemVerification, an error on cgroup v1 from 1.35 even with failCgroupV1: false", () => {
    const section = haSection(1);
    Object.assign(section.kubernetes, { version: "1.37.2", allowCgroupV1: true });
    const m = model(section);
    const [first, second] = m.controlPlanes;
    expect(initConfiguration(m, first).nodeRegistration).toMatchObject({ ignorePreflightErrors: ["SystemVerification"] });
    expect(joinConfiguration(m, second).nodeRegistration).toMatchObject({ ignorePreflightErrors: ["SystemVerification"] });
    const upgrades = [renderFirstControlPlaneUpgrade(m, first, undefined), renderControlPlaneUpgrade(m, second, undefined)].join("\n");
    expect(upgrades).toContain('kubeadm upgrade plan "v$target" --ignore-preflight-errors=SystemVerification');
    expect(upgrades).toContain('kubeadm upgrade apply "v$target" --yes --ignore-preflight-errors=SystemVerification');
    expect(upgrades).toContain("kubeadm upgrade node --ignore-preflight-errors=SystemVerification");
    section.kubernetes.allowCgroupV1 = false;
    const strict = model(section);
    expect(initConfiguration(strict, strict.controlPlanes[0]).nodeRegistration).not.toHaveProperty("ignorePreflightErrors");
    expect(renderFirstControlPlaneUpgrade(strict, strict.controlPlanes[0], undefined)).not.toContain("ignore-preflight-errors");
  });

  it("renders kube-proxy's nftables mode, without the IPVS strictARP", () => {
    const section = devSection();
    Object.assign(section.kubernetes, { version: "1.33.4", kubeProxyMode: "nftables" });
    section.addons = { metallb: { enabled: true, addresses: ["10.0.0.200-10.0.0.210"] } };
    const proxy = kubeProxyConfiguration(model(section));
    expect(proxy).toMatchObject({ mode: "nftables" });
    expect(proxy).not.toHaveProperty("ipvs");
  });

  it("a node's teardown removes the local-path base directory when empty and keeps it with volumes in it", () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "kop-local-path-"));
    const section = devSection();
    section.addons = { storage: { provisioner: "local-path", localPath: { path: `${base}/volumes` } } };
    const m = model(section);
    const line = teardownLines(m, m.workers[0]).find((l) => l.includes(`${base}/volumes`))!;
    const run = () => spawnSync("bash", ["-c", `kop_log() { echo "kop: $*" >&2; }\n${line}`], { encoding: "utf8" });
    fs.mkdirSync(`${base}/volumes/pvc-1_default_data`, { recursive: true });
    expect(run().stderr).toContain(`keeping ${base}/volumes: it still holds local-path volumes`);
    expect(fs.existsSync(`${base}/volumes/pvc-1_default_data`)).toBe(true);
    fs.rmdirSync(`${base}/volumes/pvc-1_default_data`);
    expect(run().status).toBe(0);
    expect(fs.existsSync(`${base}/volumes`)).toBe(false);
    expect(run().status).toBe(0);
    fs.rmSync(base, { recursive: true });
  });

  it("merges kubeProxyExtraConfig over our kube-proxy settings (container hosts turn off the conntrack sizing)", () => {
    const section = devSection();
    section.kubernetes.kubeProxyExtraConfig = { conntrack: { maxPerCore: 0 }, iptables: { minSyncPeriod: "2s" } };
    expect(kubeProxyConfiguration(model(section))).toMatchObject({ mode: "iptables", clusterCIDR: "10.244.0.0/16", conntrack: { maxPerCore: 0 }, iptables: { minSyncPeriod: "2s" } });
  });

  it("digests what each role's upgrade step converges to: certSANs left out, workers blind to images", () => {
    const base = haSection(1);
    const digests = (m: ClusterModel) =>
      (["first-control-plane", "control-plane", "worker"] as const).map((role) => convergeDigest(m, role, undefined));
    const before = digests(model(base));
    const mirror = haSection(1);
    mirror.mirrors = { imageRepository: "registry.example.com/k8s" };
    const [f, c, w] = digests(model(mirror));
    expect([f !== before[0], c !== before[1], w !== before[2]]).toEqual([true, true, false]);
    const moreCps = haSection(1);
    moreCps.hosts.push({ name: "cp4", address: "10.0.0.14", roles: ["control-plane"] }, { name: "cp5", address: "10.0.0.15", roles: ["control-plane"] });
    expect(digests(model(moreCps))).toEqual(before);
    const proxy = haSection(1);
    proxy.kubernetes.kubeProxyMode = "ipvs";
    const [pf, pc, pw] = digests(model(proxy));
    expect([pf !== before[0], pc !== before[1], pw !== before[2]]).toEqual([true, false, false]);
    expect(digests(at(haSection(1), "1.30.9")).every((d, i) => d !== before[i])).toBe(true);
  });
});
