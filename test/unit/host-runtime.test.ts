import { describe, expect, it } from "vitest";
import { hostsEntries } from "../../components/host/hosts-file";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { APT_FUNCTIONS } from "../../components/host/package-manager";
import { VERIFIED_FETCH } from "../../components/runtime/release";
import { kernelModules, nodePreflight, renderOsPrep, requiredPorts, sysctls } from "../../components/host/prep";
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

  it("nftables mode loads nf_tables and installs nft", () => {
    const section = devSection();
    Object.assign(section.kubernetes, { version: "1.37.2", kubeProxyMode: "nftables" });
    const m = model(section);
    expect(kernelModules(m, host(m, "w1"))).toEqual(["overlay", "br_netfilter", "nf_tables"]);
    expect(renderOsPrep(m, host(m, "w1")).script).toContain("'nftables'");
    expect(renderOsPrep(m, host(m, "w1")).script).toContain("kube-proxy mode nftables needs it");
  });

  /** Runs a node's preflight checks in bash with stand-ins for stat and uname (what the host reports). */
  function runNodePreflight(m: ReturnType<typeof model>, fs: string, kernel: string): { code: number; stderr: string } {
    const checks = nodePreflight(m, host(m, "w1")).join("\n");
    const driver = [
      "kop_fail() { printf 'kop: ERROR: %s\\n' \"$*\" >&2; exit 1; }",
      `stat() { [ "$*" = "-fc %T /sys/fs/cgroup" ] && echo ${fs}; }`,
      `uname() { echo ${kernel}; }`,
      checks,
    ].join("\n");
    const r = spawnSync("bash", ["-euo", "pipefail", "-c", driver], { encoding: "utf8" });
    return { code: r.status ?? -1, stderr: r.stderr };
  }

  it("preflight stops a cgroup v1 node from Kubernetes 1.35 unless allowCgroupV1 is set", () => {
    const at = (version: string, extra: Record<string, unknown> = {}) => {
      const s = devSection();
      Object.assign(s.kubernetes, { version, ...extra });
      if (Number(version.split(".")[1]) >= 36) s.runtime = { containerd: { source: "release" } };
      return model(s);
    };
    const refused = runNodePreflight(at("1.35.4"), "tmpfs", "6.1.0-18-amd64");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      "kop: ERROR: w1 runs cgroup v1, which the kubelet of Kubernetes 1.35 and later refuses: boot it with cgroup v2 (systemd.unified_cgroup_hierarchy=1 on the kernel command line), or set cluster:kubernetes.allowCgroupV1: true to run the kubelet on cgroup v1 anyway (failCgroupV1: false; deprecated upstream)\n",
    );
    expect(runNodePreflight(at("1.37.2"), "cgroup2fs", "6.1.0-18-amd64")).toEqual({ code: 0, stderr: "" });
    expect(runNodePreflight(at("1.37.2", { allowCgroupV1: true }), "tmpfs", "6.1.0-18-amd64")).toEqual({ code: 0, stderr: "" });
    expect(runNodePreflight(at("1.34.4"), "tmpfs", "6.1.0-18-amd64")).toEqual({ code: 0, stderr: "" });
    // The check runs in os-prep, the first part of a node's preparation: before anything is installed.
    const prep = renderOsPrep(at("1.35.4"), host(at("1.35.4"), "w1")).script;
    expect(prep.indexOf("runs cgroup v1")).toBeLessThan(prep.indexOf("KOP_PACKAGE_RECORD="));
    expect(prep.indexOf("runs cgroup v1")).toBeGreaterThan(0);
  });

  it("preflight accepts Debian 12/13 and Ubuntu 22.04/24.04/26.04 by /etc/os-release, nothing else", () => {
    const m = model(devSection());
    // The OS check: from its `case` line to the `esac` that closes it (components/host/rhel.ts osFamilyCheck).
    const lines = renderOsPrep(m, host(m, "w1")).script.split("\n");
    const start = lines.findIndex((l) => l.startsWith('case "${ID:-}:${VERSION_ID:-}" in'));
    const line = lines.slice(start, lines.indexOf("esac", start) + 1).join("\n");
    const check = (id: string, version: string) =>
      spawnSync("bash", ["-c", `kop_fail() { echo "$*" >&2; exit 1; }\nID=${id} VERSION_ID=${version} PRETTY_NAME="${id} ${version}"\n${line}`], { encoding: "utf8" });
    for (const [id, version] of [["debian", "12"], ["debian", "13"], ["ubuntu", "22.04"], ["ubuntu", "24.04"], ["ubuntu", "26.04"]]) {
      expect(check(id, version).status, `${id} ${version}`).toBe(0);
    }
    const old = check("debian", "11");
    expect(old.status).toBe(1);
    expect(old.stderr).toBe("unsupported OS on w1: debian 11 (supported with cluster:os.family debian: Debian 12/13, Ubuntu 22.04/24.04/26.04)\n");
  });

  it("preflight stops nftables mode on a kernel older than 5.13", () => {
    const s = devSection();
    Object.assign(s.kubernetes, { version: "1.33.4", kubeProxyMode: "nftables" });
    const m = model(s);
    expect(runNodePreflight(m, "cgroup2fs", "5.10.0-30-amd64")).toEqual({
      code: 1,
      stderr:
        "kop: ERROR: w1 runs kernel 5.10.0-30-amd64; kube-proxy's nftables mode needs 5.13 or newer: use cluster:kubernetes.kubeProxyMode iptables, or a newer kernel\n",
    });
    expect(runNodePreflight(m, "cgroup2fs", "5.13.0")).toEqual({ code: 0, stderr: "" });
    expect(runNodePreflight(m, "cgroup2fs", "6.12.48+deb13-amd64")).toEqual({ code: 0, stderr: "" });
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
  it("installs containerd 2 and runc from the release files under the mirror keys, checksum-checked", () => {
    const section = devSection();
    Object.assign(section, {
      kubernetes: { version: "1.37.2" },
      mirrors: { releases: { containerd: "https://mirror.example.cn/containerd/", runc: "https://mirror.example.cn/runc" } },
    });
    const m = model(section);
    const [install] = planRuntime(m);
    expect(install.description).toBe("install the containerd runtime");
    expect(install.script).toContain("'https://mirror.example.cn/containerd/v2.4.2'/\"$file\" 'https://mirror.example.cn/containerd/v2.4.2'/\"$file\".sha256sum");
    expect(install.script).toContain("file=containerd-2.4.2-linux-\"$arch\".tar.gz");
    expect(install.script).toContain("'https://mirror.example.cn/runc/v1.5.3'/runc.\"$arch\" 'https://mirror.example.cn/runc/v1.5.3'/runc.sha256sum");
    expect(install.script).not.toContain("kop_apt_install 'containerd'");
    expect(install.files.map((f) => f.path)).toEqual(["/etc/systemd/system/containerd.service"]);
    expect(install.files[0].content).toContain("ExecStart=/usr/local/bin/containerd");
    expect(install.deleteScript).toContain("kop_restore /etc/systemd/system/containerd.service");
    expect(install.deleteScript).toContain("xargs -r rm -f </var/lib/kubeadm-on-pulumi/containerd-release-files");
  });

  it("an installed containerd and runc of the asked versions are kept, however their --version output arrives", () => {
    const section = devSection();
    Object.assign(section, { kubernetes: { version: "1.37.2" } });
    const [install] = planRuntime(model(section));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-versions-"));
    // runc prints five lines in several writes: a reader that stops at the first line (grep -q) gets
    // the rest refused, and under pipefail the check failed with SIGPIPE and runc was installed again.
    const standIn = (name: string, lines: string[]) => {
      fs.writeFileSync(path.join(dir, name), `#!/bin/bash\n${lines.map((l) => `echo '${l}'; sleep 0.05`).join("\n")}\n`, { mode: 0o755 });
    };
    standIn("containerd", ["containerd github.com/containerd/containerd/v2 v2.4.2 0123abc"]);
    standIn("runc", ["runc version 1.5.3", "commit: v1.5.3-0-g0123abc", "spec: 1.2.1", "go: go1.26.8", "libseccomp: 2.5.4"]);
    const checks = install.script
      .split("\n")
      .filter((l) => /^(containerd|runc)_installed=|^if \[\[ "\$(containerd|runc)_installed/.test(l))
      .map((l) => l.replace("/usr/local/bin/containerd", `${dir}/containerd`).replace("/usr/local/sbin/runc", `${dir}/runc`))
      .map((l) => (l.startsWith("if ") ? `${l} echo "$(basename ${l.includes("runc") ? "runc" : "containerd"}) would be installed"; fi` : l));
    expect(checks).toHaveLength(4);
    for (let i = 0; i < 5; i++) {
      const r = spawnSync("bash", ["-euo", "pipefail", "-c", checks.join("\n")], { encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("");
    }
    standIn("runc", ["runc version 1.5.2", "commit: v1.5.2"]);
    standIn("containerd", ["containerd github.com/containerd/containerd/v2 v2.4.20 0123abc"]);
    const older = spawnSync("bash", ["-euo", "pipefail", "-c", checks.join("\n")], { encoding: "utf8" });
    expect(older.stdout).toBe("containerd would be installed\nrunc would be installed\n");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("kop_verified accepts a file whose sha256 the sums file lists and refuses any other", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-verified-"));
    fs.writeFileSync(path.join(dir, "runc.amd64"), "runc binary\n");
    const sum = createHash("sha256").update("runc binary\n").digest("hex");
    fs.writeFileSync(path.join(dir, "runc.sha256sum"), `${"0".repeat(64)}  runc.arm64\n${sum} *runc.amd64\n`);
    const verify = (name: string) =>
      spawnSync(
        "bash",
        ["-euo", "pipefail", "-c", [APT_FUNCTIONS, "kop_fail() { echo \"$*\" >&2; exit 1; }", VERIFIED_FETCH, `kop_verified file://${dir}/${name} file://${dir}/runc.sha256sum ${name} ${dir}/out runc`].join("\n")],
        { encoding: "utf8" },
      );
    const good = verify("runc.amd64");
    expect(good.stderr).toBe("");
    expect(good.status).toBe(0);
    expect(fs.readFileSync(path.join(dir, "out"), "utf8")).toBe("runc binary\n");
    fs.writeFileSync(path.join(dir, "runc.arm64"), "tampered\n");
    const bad = verify("runc.arm64");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`^checksum mismatch for file://${dir}/runc.arm64: got [0-9a-f]{64}, file://${dir}/runc.sha256sum says ${"0".repeat(64)}\n$`));
    const missing = verify("runc.riscv64");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(new RegExp(`\ncannot download file://${dir}/runc.riscv64 \\(set cluster:mirrors.releases.runc to a mirror of the release files\\)\n$`));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("installs containerd from the distribution or from the Docker repository", () => {
    const distro = model(devSection());
    expect(planRuntime(distro)[0].script).toContain("kop_pkg_install 'containerd' 'runc'");
    const section = devSection();
    section.runtime = { containerd: { source: "docker-ce" } };
    section.mirrors = { dockerPackages: "https://mirror.example.com/docker-ce/linux" };
    const dockerCe = planRuntime(model(section))[0].script;
    expect(dockerCe).toContain("kop_pkg_install 'containerd.io'");
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
    expect(install).toContain("cri-dockerd-0.3.26");
    expect(install).toContain("kop_pkg_install 'docker-ce' 'docker-ce-cli' 'containerd.io'");
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
      format: "deb",
      name: "kubernetes",
      url: "https://mirror.example.com/kubernetes-new/core/stable/v1.29/deb/",
      suite: "/",
      components: [],
      keyUrl: "https://mirror.example.com/kubernetes-new/core/stable/v1.29/deb/Release.key",
    });
    const step = planKubePackages(m)[0];
    expect(step.script).toContain("deb [signed-by=/etc/apt/keyrings/kubernetes.asc] https://mirror.example.com/kubernetes-new/core/stable/v1.29/deb/ /");
    expect(step.script).toContain("kop_pkg_install 'kubeadm=1.29.13-1.1' 'kubelet=1.29.13-1.1' 'kubectl=1.29.13-1.1'");
    expect(step.script).toContain("kop_pkg_hold 'kubeadm' 'kubelet' 'kubectl'");
    expect(step.script).toContain("systemctl enable kubelet");
    expect(step.deleteScript).toContain("kop_pkg_purge_recorded /var/lib/kubeadm-on-pulumi/packages/kube-packages");
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
