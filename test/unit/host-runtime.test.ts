import { describe, expect, it } from "vitest";
import { hostsEntries } from "../../components/host/hosts-file";
import { kernelModules, renderOsPrep, requiredPorts, sysctls } from "../../components/host/prep";
import { planKubePackages, kubernetesRepository } from "../../components/kube-packages/plan";
import { putFile, script } from "../../components/remote/shell";
import { noProxyList, renderDaemonJson, renderProxyDropIn } from "../../components/runtime/docker";
import { planRuntime, runtimeConfigFiles } from "../../components/runtime/plan";
import { devSection, haSection, model } from "./fixtures";

const host = (m: ReturnType<typeof model>, name: string) => m.hosts.find((h) => h.name === name)!;

describe("host preparation", () => {
  it("loads ip_vs modules and installs ipset/ipvsadm only in ipvs mode", () => {
    const iptables = model(devSection());
    expect(kernelModules(iptables, host(iptables, "w1"))).toEqual(["overlay", "br_netfilter"]);
    const section = devSection();
    section.kubernetes.kubeProxyMode = "ipvs";
    const ipvs = model(section);
    expect(kernelModules(ipvs, host(ipvs, "w1"))).toEqual(["overlay", "br_netfilter", "ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"]);
    expect(renderOsPrep(ipvs, host(ipvs, "w1")).script).toContain("'ipset' 'ipvsadm'");
    expect(renderOsPrep(iptables, host(iptables, "w1")).script).not.toContain("ipvsadm");
  });

  it("sets the Kubernetes sysctls on nodes, vm.max_map_count only with logging, user sysctls everywhere", () => {
    const section = devSection();
    section.os = { sysctls: { "fs.inotify.max_user_watches": "524288" } };
    const m = model(section);
    expect(sysctls(m, host(m, "w1"))).toEqual({
      "net.bridge.bridge-nf-call-iptables": "1",
      "net.bridge.bridge-nf-call-ip6tables": "1",
      "net.ipv4.ip_forward": "1",
      "fs.inotify.max_user_watches": "524288",
    });
    section.addons = { logging: { enabled: true } };
    expect(sysctls(model(section), host(model(section), "w1"))["vm.max_map_count"]).toBe("262144");
  });

  it("checks the ports each role needs, allowing our own processes on re-runs", () => {
    const m = model(haSection(1));
    expect(requiredPorts(m, host(m, "w1")).map((p) => p.port)).toEqual([10250]);
    expect(requiredPorts(m, host(m, "cp1")).map((p) => p.port)).toEqual([10250, 6443, 10257, 10259, 2379, 2380]);
    expect(requiredPorts(m, host(m, "lb1")).map((p) => p.port)).toEqual([6443]);
    const prep = renderOsPrep(m, host(m, "cp1")).script;
    expect(prep).toContain(`*'"kube-apiserver"'*) ;;`);
    expect(prep).toContain("port 6443 (needed by the API server) is already in use");
  });

  it("runs the control-plane resource checks only on control planes", () => {
    const m = model(devSection());
    expect(renderOsPrep(m, host(m, "cp1")).script).toContain("at least 2 are required");
    expect(renderOsPrep(m, host(m, "w1")).script).not.toContain("at least 2 are required");
    expect(renderOsPrep(m, host(m, "w1")).script).toContain("unsupported OS");
    expect(renderOsPrep(m, host(m, "w1")).script).toContain("no default route");
  });

  it("points chrony at the configured time servers", () => {
    const section = devSection();
    section.os = { timeServers: ["ntp.example.com"] };
    const m = model(section);
    const prep = renderOsPrep(m, host(m, "w1"));
    expect(prep.files.map((f) => f.path)).toContain("/etc/chrony/sources.d/kubeadm-on-pulumi.sources");
    expect(prep.files.find((f) => f.path.includes("chrony"))!.content).toContain("server ntp.example.com iburst");
    expect(prep.deleteScript).toContain("kop_restore '/etc/chrony/sources.d/kubeadm-on-pulumi.sources'");
  });

  it("undoes what it did: modules, sysctls, swap units, fstab, hostname", () => {
    const m = model(devSection());
    const prep = renderOsPrep(m, host(m, "w1"));
    expect(prep.deleteScript).toContain("kop_restore '/etc/modules-load.d/kubeadm-on-pulumi.conf'");
    expect(prep.deleteScript).toContain("kop_restore '/etc/sysctl.d/99-kubeadm-on-pulumi.conf'");
    expect(prep.deleteScript).toContain("systemctl unmask");
    expect(prep.deleteScript).toContain("kop_restore /etc/fstab");
    expect(prep.deleteScript).toContain("kop_restore /etc/hostname");
  });

  it("lists itself, the control planes and the endpoint name in /etc/hosts, not the other workers", () => {
    const m = model(haSection(2));
    expect(hostsEntries(m, host(m, "w1"))).toEqual([
      { address: "10.0.1.10", names: ["w1"] },
      { address: "10.0.0.11", names: ["cp1"] },
      { address: "10.0.0.12", names: ["cp2"] },
      { address: "10.0.0.13", names: ["cp3"] },
      { address: "10.0.0.100", names: ["k8s-api.test"] },
    ]);
  });
});

describe("container runtime", () => {
  it("installs containerd from the distribution or from the Docker repository", () => {
    const distro = model(devSection());
    expect(planRuntime(distro)[0].script).toContain("kop_apt_install 'containerd' 'runc'");
    const section = devSection();
    section.runtime = { containerd: { source: "docker-ce" } };
    section.mirrors = { dockerPackages: "https://mirror.example.com/docker-ce/linux" };
    const dockerCe = planRuntime(model(section))[0].script;
    expect(dockerCe).toContain("kop_apt_install 'containerd.io'");
    expect(dockerCe).toContain("https://mirror.example.com/docker-ce/linux/${ID} ${VERSION_CODENAME} stable");
  });

  it("docker + cri-dockerd: daemon.json, cri-dockerd units with the sandbox image, the CRI socket", () => {
    const section = devSection();
    section.runtime = { kind: "docker", logMaxSize: "50Mi", logMaxFiles: 3 };
    section.mirrors = { registryMirrors: { "docker.io": ["https://hub.example.com"] }, insecureRegistries: ["reg.local:5000"], imageRepository: "reg.local:5000/k8s" };
    const m = model(section);
    expect(m.runtime.criSocket).toBe("unix:///run/cri-dockerd.sock");
    expect(JSON.parse(renderDaemonJson(m))).toEqual({
      "exec-opts": ["native.cgroupdriver=systemd"],
      "log-driver": "json-file",
      "log-opts": { "max-size": "50m", "max-file": "3" },
      "storage-driver": "overlay2",
      "registry-mirrors": ["https://hub.example.com"],
      "insecure-registries": ["reg.local:5000"],
    });
    const files = runtimeConfigFiles(m);
    const service = files.find((f) => f.path === "/etc/systemd/system/cri-docker.service")!.content;
    expect(service).toContain("--network-plugin=cni --cni-bin-dir=/opt/cni/bin --cni-conf-dir=/etc/cni/net.d --pod-infra-container-image=reg.local:5000/k8s/pause:3.9");
    const install = planRuntime(m)[0].script;
    expect(install).toContain("cri-dockerd-0.3.16");
    expect(install).toContain("kop_apt_install 'docker-ce' 'docker-ce-cli' 'containerd.io'");
  });

  it("proxy drop-in: NO_PROXY always holds the pod, service and host networks", () => {
    const section = devSection();
    expect(renderProxyDropIn(model(section))).toBeUndefined();
    section.runtime = { proxy: { https: "http://proxy.example.com:3128", noProxy: [".corp.example.com"] } };
    const m = model(section);
    const list = noProxyList(m);
    expect(list).toEqual(expect.arrayContaining(["10.244.0.0/16", "10.96.0.0/12", "10.96.0.1", "10.0.0.11", "10.0.0.21", ".cluster.local", ".corp.example.com"]));
    const dropIn = renderProxyDropIn(m)!;
    expect(dropIn).toContain('Environment="HTTPS_PROXY=http://proxy.example.com:3128"');
    expect(runtimeConfigFiles(m).map((f) => f.path)).toContain("/etc/systemd/system/containerd.service.d/http-proxy.conf");
  });

  it("restarts containerd only when its config changed; hosts.toml needs no restart", () => {
    const m = model(devSection());
    const config = planRuntime(m)[1].script;
    expect(config).toMatch(/kop_put '\/etc\/containerd\/config.toml' 0644 <<'KOP_EOF_[0-9a-f]+'; then restart=1; fi/);
    expect(config).toContain('if [ "$restart" = 1 ] || ! systemctl is-active --quiet containerd; then systemctl restart containerd; fi');
  });
});

describe("Kubernetes packages", () => {
  it("uses the per-minor repository under the configured base, pins the exact version and holds it", () => {
    const section = devSection();
    section.mirrors = { kubernetesPackages: "https://mirror.example.com/kubernetes-new/core/stable/" };
    const m = model(section);
    expect(kubernetesRepository(m)).toEqual({
      url: "https://mirror.example.com/kubernetes-new/core/stable/v1.29/deb/",
      keyUrl: "https://mirror.example.com/kubernetes-new/core/stable/v1.29/deb/Release.key",
    });
    const step = planKubePackages(m)[0];
    expect(step.script).toContain("deb [signed-by=/etc/apt/keyrings/kubernetes.asc] https://mirror.example.com/kubernetes-new/core/stable/v1.29/deb/ /");
    expect(step.script).toContain("kop_apt_install 'kubeadm=1.29.13-1.1' 'kubelet=1.29.13-1.1' 'kubectl=1.29.13-1.1'");
    expect(step.script).toContain("apt-mark hold 'kubeadm' 'kubelet' 'kubectl'");
    expect(step.script).toContain("systemctl enable kubelet");
    expect(step.deleteScript).toContain("kop_apt_purge_recorded /var/lib/kubeadm-on-pulumi/packages/kube-packages");
  });
});

describe("script building blocks", () => {
  it("keeps secret file content out of the script", () => {
    const text = putFile({ path: "/etc/x", mode: "0600", content: "TOPSECRET", secret: { name: "x" } });
    expect(text).not.toContain("TOPSECRET");
    expect(text).toContain('printf \'%s\' "$SECRET_x" | kop_put');
    expect(script("t", "echo hi", ["x"])).toContain("kop_secret x");
  });
});
