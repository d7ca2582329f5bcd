/**
 * The RHEL family (cluster:os.family "rhel"): every option with its exact error, and what the
 * dnf, SELinux and firewalld parts of the scripts do. No RHEL-family host can be built here (no rpm
 * mirror is reachable): dnf.sh runs below against stand-in rpm/dnf commands that record their
 * arguments and answer from a fake package database; the repository files are parsed by the
 * real dnf in test/render/rhel.test.ts.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { firewallOpenings, firewalldClose, firewalldOpen, firewalldServiceFile } from "../../components/host/firewalld";
import { DNF_FUNCTIONS, dnf, packageManagerOf, renderRepoFile } from "../../components/host/package-manager";
import { renderOsPrep } from "../../components/host/prep";
import { selinuxApply, selinuxRestore } from "../../components/host/selinux";
import { kubernetesRepository } from "../../components/kube-packages/plan";
import { planCluster } from "../../components/plan";
import { PRELUDE } from "../../components/remote/shell";
import { dockerPackageRepository } from "../../components/runtime/repository";
import { devSection, haSection, model, problemsOf } from "./fixtures";

function rhel(section: Record<string, any>, os: Record<string, unknown> = {}): Record<string, any> {
  section.os = { family: "rhel", ...os };
  section.runtime = { containerd: { source: "docker-ce" } };
  return section;
}
const host = (m: ReturnType<typeof model>, name: string) => m.hosts.find((h) => h.name === name)!;

describe("cluster:os options of the RHEL family", () => {
  it("defaults: debian family; on rhel SELinux permissive, firewalld open, the rpm version pinned alone", () => {
    const debian = model(devSection());
    expect([debian.os.family, debian.kubernetes.packageVersion]).toEqual(["debian", "1.29.13-1.1"]);
    const m = model(rhel(devSection()));
    expect([m.os.family, m.os.selinux, m.os.firewalld, m.kubernetes.packageVersion]).toEqual(["rhel", "permissive", "open", "1.29.13"]);
    expect(packageManagerOf(m).family).toBe("dnf");
  });

  it("rejects bad values with the exact key and the allowed ones", () => {
    const bad = (os: Record<string, unknown>) => problemsOf(rhel(devSection(), os));
    expect(bad({ family: "centos" })).toEqual(['cluster:os.family: must be one of "debian", "rhel"']);
    expect(bad({ selinux: "disabled" })).toEqual(['cluster:os.selinux: must be one of "permissive", "enforcing", "leave"']);
    expect(bad({ firewalld: "disable" })).toEqual(['cluster:os.firewalld: must be one of "open", "leave"']);
  });

  it("refuses the RHEL-only keys on the debian family instead of ignoring them", () => {
    const section = devSection();
    section.os = { selinux: "enforcing", firewalld: "leave" };
    expect(problemsOf(section)).toEqual([
      'cluster:os.selinux: applies to cluster:os.family "rhel" only; "debian" hosts are not changed by it: remove the key or set cluster:os.family to "rhel"',
      'cluster:os.firewalld: applies to cluster:os.family "rhel" only; "debian" hosts are not changed by it: remove the key or set cluster:os.family to "rhel"',
    ]);
  });

  it("refuses what the RHEL family does not ship, and the Debian package revision", () => {
    const section = rhel(haSection(1));
    section.runtime = { containerd: { source: "distro" } };
    section.etcd = { topology: "external", source: "distro" };
    section.hosts.push({ name: "etcd1", address: "10.0.0.31", roles: ["etcd"] });
    section.kubernetes.packageRevision = "2.1";
    expect(problemsOf(section)).toEqual([
      'cluster:runtime.containerd.source: "distro" is not available on RHEL, Rocky or AlmaLinux (they ship no containerd package): set "docker-ce" (containerd.io from cluster:mirrors.dockerPackages)',
      'cluster:etcd.source: "distro" is not available on RHEL, Rocky or AlmaLinux (they ship no etcd package): set "release"',
      "cluster:kubernetes.packageRevision: 2.1 is a Debian revision; RHEL-family hosts pin the rpm version alone (1.29.13): remove the key",
    ]);
    // The docker runtime brings its own containerd.io: allowed.
    const docker = rhel(devSection());
    docker.runtime = { kind: "docker" };
    expect(model(docker).runtime.kind).toBe("docker");
  });
});

describe("dnf scripts", () => {
  it("no script of a RHEL-family cluster calls apt or dpkg, and each carries dnf's functions", () => {
    const m = model(rhel(haSection(1)));
    const steps = planCluster(m).steps;
    for (const step of steps) {
      for (const text of [step.script, step.deleteScript ?? ""]) {
        expect(text, step.id).not.toMatch(/apt-get|apt-mark|dpkg|kop_apt_/);
        if (text.includes("kop_pkg_")) expect(text, step.id).toContain(DNF_FUNCTIONS);
      }
    }
    const prep = renderOsPrep(m, host(m, "w1")).script;
    expect(prep).toContain(
      "KOP_PACKAGE_RECORD=/var/lib/kubeadm-on-pulumi/packages/os-prep kop_pkg_install 'chrony' 'iproute' 'iproute-tc' 'ca-certificates' 'curl' 'conntrack-tools' 'socat' 'ethtool' 'iptables-nft' 'tar' 'python3-dnf-plugin-versionlock'",
    );
    expect(prep).toContain("systemctl enable chronyd");
    expect(prep).toContain("command -v dnf >/dev/null || kop_fail 'dnf not found on w1");
  });

  it("accepts Rocky, AlmaLinux and RHEL 9 and 10 by major version, and names the family setting a host of the other family needs", () => {
    const m = model(rhel(devSection()));
    const script = renderOsPrep(m, host(m, "w1")).script;
    const preflight = script.slice(script.indexOf("# --- preflight"), script.indexOf("command -v systemctl"));
    const check = (osRelease: string) => {
      try {
        return execFileSync("bash", ["-c", `kop_fail() { echo "FAIL: $*"; exit 1; }\n${osRelease}\n${preflight.replace(/^\[ -r .*\n|^# shellcheck.*\n|^\. \/etc\/os-release\n/gm, "").replace(/^command -v dnf.*$/m, "")}\necho ok`], { encoding: "utf8" }).trim();
      } catch (e) {
        return String((e as { stdout: string }).stdout).trim();
      }
    };
    for (const ok of ["ID=rocky VERSION_ID=9.5", "ID=rocky VERSION_ID=10.0", "ID=almalinux VERSION_ID=9.4", "ID=almalinux VERSION_ID=10.0", "ID=rhel VERSION_ID=9.6", "ID=rhel VERSION_ID=10.0"]) {
      expect(check(ok), ok).toBe("ok");
    }
    expect(check("ID=rocky VERSION_ID=8.10 ID_LIKE='rhel centos fedora' PRETTY_NAME='Rocky Linux 8.10'")).toBe(
      "FAIL: unsupported OS on w1: Rocky Linux 8.10 (supported with cluster:os.family rhel: Rocky Linux 9/10, AlmaLinux 9/10, RHEL 9/10)",
    );
    expect(check("ID=debian VERSION_ID=12 PRETTY_NAME='Debian GNU/Linux 12 (bookworm)'")).toBe(
      "FAIL: w1 runs Debian GNU/Linux 12 (bookworm), a debian-family system, but cluster:os.family is rhel: set it to debian (all hosts share one family)",
    );
    const debian = model(devSection());
    const debianScript = renderOsPrep(debian, host(debian, "w1")).script;
    expect(debianScript).toMatch(/ debian:12 \| debian:13 \| ubuntu:22\.04 \| ubuntu:24\.04 \| ubuntu:26\.04\) ;;/);
    expect(debianScript).not.toContain("rocky");
  });

  it("writes the Kubernetes and Docker CE repositories in the rpm layout under the configured bases", () => {
    const section = rhel(devSection());
    section.mirrors = { kubernetesPackages: "https://mirrors.aliyun.com/kubernetes-new/core/stable", dockerPackages: "https://mirrors.aliyun.com/docker-ce/linux" };
    const m = model(section);
    expect(kubernetesRepository(m)).toEqual({
      format: "rpm",
      name: "kubernetes",
      baseUrl: "https://mirrors.aliyun.com/kubernetes-new/core/stable/v1.29/rpm/",
      keyUrl: "https://mirrors.aliyun.com/kubernetes-new/core/stable/v1.29/rpm/repodata/repomd.xml.key",
    });
    expect(dockerPackageRepository(m)).toEqual({
      format: "rpm",
      name: "docker",
      baseUrl: "https://mirrors.aliyun.com/docker-ce/linux/centos/$releasever/$basearch/stable",
      keyUrl: "https://mirrors.aliyun.com/docker-ce/linux/centos/gpg",
    });
    const packages = planCluster(m).steps.find((s) => s.id === "w1/kube-packages")!;
    expect(packages.script).toContain(renderRepoFile(kubernetesRepository(m) as Extract<ReturnType<typeof kubernetesRepository>, { format: "rpm" }>).replace(/'/g, "'\\''"));
    expect(packages.script).toContain("kop_pkg_install 'kubeadm=1.29.13' 'kubelet=1.29.13' 'kubectl=1.29.13'");
    expect(packages.script).toContain("kop_pkg_hold 'kubeadm' 'kubelet' 'kubectl'");
    expect(packages.deleteScript).toContain("kop_restore /etc/yum.repos.d/kubeadm-on-pulumi-kubernetes.repo\nkop_restore /etc/pki/rpm-gpg/kubeadm-on-pulumi-kubernetes.asc");
    expect(() => dnf.addRepository({ format: "deb", name: "x", url: "https://a.example/", suite: "/", components: [], keyUrl: "https://a.example/k" })).toThrow(
      "dnf cannot read the deb repository x",
    );
  });
});

describe("SELinux (cluster:os.selinux)", () => {
  const prepOf = (selinux: string, name = "cp1") => {
    const m = model(rhel(haSection(1), { selinux }));
    return renderOsPrep(m, host(m, name));
  };
  it("permissive: setenforce 0 and SELINUX=permissive, the host's mode and file put back on delete", () => {
    const { script, deleteScript } = prepOf("permissive");
    expect(script).toContain("setenforce 0");
    expect(script).toContain("s/^SELINUX=.*/SELINUX=permissive/");
    expect(script).not.toContain("container-selinux");
    expect(deleteScript).toContain("if [ -e /etc/selinux/config.kop-orig ]; then kop_restore /etc/selinux/config; fi");
    expect(deleteScript).toContain("Enforcing) setenforce 1");
  });
  it("enforcing: container-selinux, setenforce 1, haproxy_connect_any on load balancers only; refuses a disabled SELinux", () => {
    const { script } = prepOf("enforcing");
    expect(script).toContain("kop_pkg_install 'container-selinux'");
    expect(script).toContain("setenforce 1");
    expect(script).toContain("SELinux is disabled on cp1: enforcing needs the file system relabeled and a reboot");
    expect(script).not.toContain("haproxy_connect_any");
    expect(prepOf("enforcing", "lb1").script).toContain("setsebool -P haproxy_connect_any on");
  });
  it("leave: no SELinux command at all", () => {
    const { script } = prepOf("leave");
    expect(script).not.toMatch(/setenforce|getenforce|selinux\/config/);
  });
});

describe("firewalld (cluster:os.firewalld)", () => {
  const ports = (section: Record<string, any>, name: string) => {
    const m = model(section);
    return firewallOpenings(m, host(m, name)).map((o) => (o.protocol === "ip" ? `ip:${o.value}` : `${o.port}/${o.protocol}`));
  };
  it("opens exactly each role's ports: API and etcd on control planes, kubelet and the CNI on nodes, NodePorts on workers, the frontend and VRRP on balancers", () => {
    const section = rhel(haSection(1));
    expect(ports(section, "cp1")).toEqual(["6443/tcp", "2379-2380/tcp", "10250/tcp", "10256/tcp", "8472/udp"]);
    expect(ports(section, "w1")).toEqual(["10250/tcp", "10256/tcp", "8472/udp", "30000-32767/tcp", "30000-32767/udp"]);
    expect(ports(section, "lb1")).toEqual(["6443/tcp", "ip:vrrp"]);
  });
  it("follows the CNI, external etcd, a colocated balancer, monitoring, MetalLB and the host-network gateway", () => {
    const section = rhel(haSection(1));
    section.addons = { cni: { plugin: "calico" } };
    expect(ports(section, "w1")).toEqual(["10250/tcp", "10256/tcp", "179/tcp", "ip:4", "30000-32767/tcp", "30000-32767/udp"]);
    section.addons = { cni: { plugin: "calico", calico: { encapsulation: "VXLAN" } } };
    expect(ports(section, "w1")).toEqual(["10250/tcp", "10256/tcp", "4789/udp", "30000-32767/tcp", "30000-32767/udp"]);
    section.addons = { cni: { flannel: { backend: "host-gw" } }, metallb: { enabled: true, addresses: ["10.0.0.200-10.0.0.210"] }, gateway: { enabled: true } };
    expect(ports(section, "w1")).toEqual(["10250/tcp", "10256/tcp", "7946/tcp", "7946/udp", "80/tcp", "30000-32767/tcp", "30000-32767/udp"]);
    section.addons.gateway = { enabled: true, tlsSecretName: "gateway-tls" };
    expect(ports(section, "w1")).toEqual(["10250/tcp", "10256/tcp", "7946/tcp", "7946/udp", "80/tcp", "443/tcp", "30000-32767/tcp", "30000-32767/udp"]);

    const external = rhel(haSection(0));
    external.etcd = { topology: "external", clientPort: 2479, peerPort: 2480 };
    external.hosts.push({ name: "etcd1", address: "10.0.0.31", roles: ["etcd"] });
    expect(ports(external, "etcd1")).toEqual(["2479/tcp", "2480/tcp"]);
    expect(ports(external, "cp1")).toEqual(["6443/tcp", "10250/tcp", "10256/tcp", "8472/udp"]);

    const colocated = rhel(haSection(0));
    colocated.loadBalancer = { mode: "colocated", vip: "10.0.0.100", port: 8443 };
    colocated.hosts = colocated.hosts.filter((h: { roles: string[] }) => !h.roles.includes("load-balancer"));
    colocated.addons = { monitoring: { enabled: true } };
    expect(ports(colocated, "cp1")).toEqual([
      "6443/tcp", "2379-2380/tcp", "10257/tcp", "10259/tcp", "2381/tcp", "10250/tcp", "10256/tcp", "10249/tcp", "9100/tcp", "8472/udp", "8443/tcp", "ip:vrrp",
    ]);
  });
  it("open: one service file of ours in the zone, added and taken out again; never stops firewalld", () => {
    const m = model(rhel(haSection(1)));
    const prep = renderOsPrep(m, host(m, "w1"));
    const file = firewalldServiceFile(m, host(m, "w1"));
    expect(prep.files).toContainEqual(file);
    expect(file.content).toContain('  <port protocol="udp" port="8472"/> <!-- flannel VXLAN -->');
    expect(prep.script).toContain('firewall-cmd --permanent --zone="$zone" --add-service=kubeadm-on-pulumi');
    expect(prep.script).toContain('firewall-offline-cmd --zone="$zone" --add-service=kubeadm-on-pulumi');
    expect(prep.deleteScript).toContain('firewall-cmd --permanent --zone="$zone" --remove-service=kubeadm-on-pulumi');
    expect(prep.deleteScript).toContain("kop_restore /etc/firewalld/services/kubeadm-on-pulumi.xml");
    for (const text of [prep.script, prep.deleteScript]) expect(text).not.toMatch(/systemctl (stop|disable|mask)[^\n]*firewalld|--set-default-zone|--panic/);
  });
  it("leave: firewalld untouched", () => {
    const m = model(rhel(haSection(1), { firewalld: "leave" }));
    const prep = renderOsPrep(m, host(m, "w1"));
    expect(prep.script + prep.deleteScript).not.toMatch(/firewall/);
    expect(prep.files.map((f) => f.path)).not.toContain("/etc/firewalld/services/kubeadm-on-pulumi.xml");
  });
});

describe("dnf.sh against stand-in rpm and dnf", () => {
  /** Runs `body` with dnf.sh loaded; rpm answers from $DB (lines "name epoch:version-release"), dnf and rpm -e log their arguments. */
  function run(body: string, db: string[], lock = ""): { log: string[]; out: string; db: string[]; lock: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-dnf-"));
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(dir, "db"), db.map((l) => l + "\n").join(""));
    fs.writeFileSync(path.join(dir, "versionlock.list"), lock);
    fs.writeFileSync(
      path.join(bin, "rpm"),
      `#!/usr/bin/env bash
# Stand-in rpm: -q [--whatprovides] [--qf FMT] NAME..., -e NAME...
echo "rpm $*" >>"$KOP_T/log"
if [ "$1" = -e ]; then shift; for n in "$@"; do sed -i "/^$n /d" "$KOP_T/db"; done; exit 0; fi
shift; fmt=""; [ "$1" = --whatprovides ] && shift; [ "$1" = --qf ] && { fmt=$2; shift 2; }
rc=0
# rpm -q gpg-pubkey lists every imported key by its full name.
if [ "$1" = gpg-pubkey ]; then grep -q "^gpg-pubkey-" "$KOP_T/db" || exit 1; sed -n 's/^\\(gpg-pubkey-[^ ]*\\) .*/\\1/p' "$KOP_T/db"; exit 0; fi
for n in "$@"; do
  line=$(grep "^$n " "$KOP_T/db") || { echo "package $n is not installed"; rc=1; continue; }
  evr=\${line#* }; e=\${evr%%:*}; vr=\${evr#*:}
  if [ -z "$fmt" ]; then echo "$n-$vr"; continue; fi
  case "$fmt" in
    *NAME*) printf '%s-%s:%s.*\\n' "$n" "$e" "$vr" ;;
    *EPOCH*) printf '%s:%s ' "$e" "$vr" ;;
    *) printf '%s' "$vr" ;;
  esac
done
exit $rc
`,
    );
    fs.writeFileSync(
      path.join(bin, "dnf"),
      `#!/usr/bin/env bash
# Stand-in dnf: logs; install adds NAME[-VERSION] as NAME VERSION-1.1 (epoch 0); versionlock edits the list.
echo "dnf $*" >>"$KOP_T/log"
case " $* " in
  *" install "*) for a in "$@"; do case "$a" in -*|install) ;; *) n=\${a%%-[0-9]*}; v=\${a#"$n"}; v=\${v#-}; echo "$n 0:\${v:-9.9}-1.1" >>"$KOP_T/db" ;; esac; done
    [ -n "\${KOP_NEW_KEY:-}" ] && echo "gpg-pubkey-$KOP_NEW_KEY 0:1-1" >>"$KOP_T/db"; exit 0 ;;
  *" remove "*) for a in "$@"; do case "$a" in -*|remove) ;; *) sed -i "/^$a /d" "$KOP_T/db" ;; esac; done ;;
  *" versionlock add "*) n=\${*: -1}; line=$(grep "^$n " "$KOP_T/db"); evr=\${line#* }; echo "$n-$evr.*" >>"$KOP_VERSIONLOCK" ;;
  *" versionlock delete "*) n=\${*: -1}; sed -i "/^$n-[0-9]*:/d" "$KOP_VERSIONLOCK" ;;
esac
`,
    );
    fs.chmodSync(path.join(bin, "rpm"), 0o755);
    fs.chmodSync(path.join(bin, "dnf"), 0o755);
    const text = `set -euo pipefail\n${PRELUDE}\n${DNF_FUNCTIONS}\nexport KOP_VERSIONLOCK=$KOP_T/versionlock.list\n${body}`;
    const out = execFileSync("bash", ["-c", text], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, KOP_T: dir, KOP_APPLIED: path.join(dir, "applied") } });
    const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8").split("\n").filter(Boolean);
    const result = { log: fs.existsSync(path.join(dir, "log")) ? read("log") : [], out, db: read("db"), lock: fs.readFileSync(path.join(dir, "versionlock.list"), "utf8") };
    fs.rmSync(dir, { recursive: true, force: true });
    return result;
  }

  it("installs the missing packages at NAME-VERSION, records them and the key dnf imported; leaves installed ones alone", () => {
    const r = run(
      `KOP_NEW_KEY=9a296436-6589ea0a KOP_PACKAGE_RECORD=$KOP_T/rec kop_pkg_install 'kubeadm=1.29.13' 'chrony'\ncat "$KOP_T/rec"`,
      ["chrony 0:4.5-1.el9"],
    );
    expect(r.log.filter((l) => l.startsWith("dnf"))).toEqual(["dnf install -y -q --setopt=install_weak_deps=False kubeadm-1.29.13"]);
    expect(r.out.trim().split("\n")).toEqual(["kubeadm", "gpg-pubkey-9a296436-6589ea0a"]);
    const again = run("kop_pkg_install 'kubeadm=1.29.13' 'chrony'", ["chrony 0:4.5-1.el9", "kubeadm 0:1.29.13-150500.1.1"]);
    expect(again.log.filter((l) => l.startsWith("dnf"))).toEqual([]);
  });

  it("matches a pin against version, version-release or epoch:version-release", () => {
    const db = ["docker-ce 3:27.3.1-1.el9", "kubeadm 0:1.29.13-150500.1.1"];
    const yes = (spec: string) => run(`if kop_pkg_installed '${spec}'; then echo yes; else echo no; fi`, db).out.trim();
    expect(["kubeadm=1.29.13", "kubeadm=1.29.13-150500.1.1", "kubeadm=0:1.29.13-150500.1.1", "docker-ce=3:27.3.1-1.el9", "docker-ce=27.3.1"].map(yes)).toEqual(["yes", "yes", "yes", "yes", "yes"]);
    expect(["kubeadm=1.29.14", "kubeadm=1.29.1", "docker-ce=27.3", "kubelet"].map(yes)).toEqual(["no", "no", "no", "no"]);
  });

  it("holds with the versionlock plugin once, moves a held package (unhold, install, hold), and the purge removes locks, packages and keys", () => {
    const held = run("kop_pkg_hold kubeadm\nkop_pkg_hold kubeadm", ["kubeadm 0:1.29.13-150500.1.1"]);
    expect(held.lock).toBe("kubeadm-0:1.29.13-150500.1.1.*\n");
    expect(held.log.filter((l) => l.startsWith("dnf"))).toEqual(["dnf -q versionlock add kubeadm"]);

    const purge = run(
      `printf '%s\\n' kubeadm gpg-pubkey-9a296436-6589ea0a gone >"$KOP_T/rec"\nkop_pkg_purge_recorded "$KOP_T/rec"\n[ ! -e "$KOP_T/rec" ] && echo removed-record`,
      ["kubeadm 0:1.29.13-150500.1.1", "gpg-pubkey-9a296436-6589ea0a 0:1-1", "chrony 0:4.5-1.el9"],
      "kubeadm-0:1.29.13-150500.1.1.*\n",
    );
    expect(purge.log.filter((l) => l.startsWith("dnf") || l.startsWith("rpm -e"))).toEqual([
      "dnf -q versionlock delete kubeadm",
      "dnf remove -y -q --setopt=install_weak_deps=False kubeadm",
      "rpm -e gpg-pubkey-9a296436-6589ea0a",
    ]);
    expect(purge.db).toEqual(["chrony 0:4.5-1.el9"]);
    expect(purge.lock).toBe("");
    expect(purge.out.trim()).toBe("removed-record");
  });
});

describe("SELinux and firewalld parts in bash, against stand-in commands", () => {
  /**
   * Runs a snippet with the prelude; /etc and the state directory are moved under a scratch root,
   * and systemctl, firewall-cmd, firewall-offline-cmd, getenforce, setenforce, getsebool and setsebool
   * are stand-ins that log their arguments and keep their state in files there.
   */
  function runHost(snippet: string, state: { firewalld?: "running" | "stopped" | "absent"; selinux?: string; etc?: Record<string, string> }, root?: string) {
    const dir = root ?? fs.mkdtempSync(path.join(os.tmpdir(), "kop-rhel-host-"));
    const bin = path.join(dir, "bin");
    if (!root) {
      fs.mkdirSync(bin);
      fs.writeFileSync(path.join(dir, "mode"), state.selinux ?? "Enforcing");
      fs.writeFileSync(path.join(dir, "zone-services"), "");
      for (const [file, text] of Object.entries(state.etc ?? {})) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
      }
      const tool = (name: string, body: string) => {
        fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\necho "${name} $*" >>"$T/log"\n${body}\n`);
        fs.chmodSync(path.join(bin, name), 0o755);
      };
      const fw = state.firewalld ?? "running";
      tool("systemctl", `if [ "$1 $2 $3" = "is-active --quiet firewalld" ]; then [ "${fw}" = running ]; else exit 0; fi`);
      const zoneOps = `for a in "$@"; do case "$a" in
  --get-default-zone) echo public ;;
  --query-service=*) grep -qx "\${a#*=}" "$T/zone-services" ;;
  --add-service=*) echo "\${a#*=}" >>"$T/zone-services" ;;
  --remove-service=*) sed -i "/^\${a#*=}$/d" "$T/zone-services" ;;
esac; done`;
      if (fw !== "absent") {
        tool("firewall-cmd", zoneOps);
        tool("firewall-offline-cmd", zoneOps);
      }
      tool("getenforce", 'cat "$T/mode"');
      tool("setenforce", 'if [ "$1" = 0 ]; then echo Permissive >"$T/mode"; else echo Enforcing >"$T/mode"; fi');
      tool("getsebool", 'echo "haproxy_connect_any --> off"');
      tool("setsebool", "exit 0");
    }
    const moved = snippet.replaceAll("/var/lib/kubeadm-on-pulumi", `${dir}/state`).replace(/(?<=[\s'"(])\/etc\//g, `${dir}/etc/`);
    const text = `set -euo pipefail\n${PRELUDE.replaceAll("/var/lib/kubeadm-on-pulumi", `${dir}/state`)}\n${moved}`;
    execFileSync("bash", ["-c", text], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, T: dir } });
    const read = (f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8") : undefined);
    return { dir, read, log: (read("log") ?? "").split("\n").filter(Boolean) };
  }
  const rhelModel = (os: Record<string, unknown> = {}) => model(rhel(haSection(1), os));
  const parts = (m: ReturnType<typeof model>, name: string) => {
    const h = host(m, name);
    const file = firewalldServiceFile(m, h);
    return { file, open: firewalldOpen(file, h), close: firewalldClose(), apply: selinuxApply(m, h, dnf), restore: selinuxRestore() };
  };

  it("firewalld running: the service file, added to the default zone once, reloaded; the delete takes it out and removes the file", () => {
    const m = rhelModel();
    const p = parts(m, "w1");
    const first = runHost(p.open, { firewalld: "running" });
    expect(first.read("etc/firewalld/services/kubeadm-on-pulumi.xml")).toBe(p.file.content);
    expect(first.read("zone-services")).toBe("kubeadm-on-pulumi\n");
    expect(first.read("state/firewalld-zone")).toBe("public\n");
    expect(first.log.filter((l) => l.startsWith("firewall-cmd"))).toEqual([
      "firewall-cmd --reload",
      "firewall-cmd --get-default-zone",
      "firewall-cmd --permanent --zone=public --query-service=kubeadm-on-pulumi",
      "firewall-cmd --permanent --zone=public --add-service=kubeadm-on-pulumi",
      "firewall-cmd --reload",
    ]);
    fs.rmSync(path.join(first.dir, "log"));
    const again = runHost(p.open, {}, first.dir);
    expect(again.log.filter((l) => l.startsWith("firewall-cmd"))).toEqual(["firewall-cmd --permanent --zone=public --query-service=kubeadm-on-pulumi"]);
    const undone = runHost(p.close, {}, first.dir);
    expect(undone.read("zone-services")).toBe("");
    expect(undone.read("etc/firewalld/services/kubeadm-on-pulumi.xml")).toBeUndefined();
    expect(undone.read("state/firewalld-zone")).toBeUndefined();
    expect(undone.log.some((l) => /systemctl (stop|disable|mask)/.test(l))).toBe(false);
    fs.rmSync(first.dir, { recursive: true, force: true });
  });

  it("firewalld stopped: the permanent configuration through firewall-offline-cmd; absent: only the file, and the run says so", () => {
    const p = parts(rhelModel(), "w1");
    const stopped = runHost(p.open, { firewalld: "stopped" });
    expect(stopped.log.filter((l) => l.startsWith("firewall"))).toEqual([
      "firewall-offline-cmd --get-default-zone",
      "firewall-offline-cmd --zone=public --query-service=kubeadm-on-pulumi",
      "firewall-offline-cmd --zone=public --add-service=kubeadm-on-pulumi",
    ]);
    fs.rmSync(stopped.dir, { recursive: true, force: true });
    const absent = runHost(p.open, { firewalld: "absent" });
    expect(absent.log.filter((l) => l.startsWith("firewall"))).toEqual([]);
    expect(absent.read("etc/firewalld/services/kubeadm-on-pulumi.xml")).toBe(p.file.content);
    runHost(p.close, {}, absent.dir);
    expect(fs.existsSync(path.join(absent.dir, "etc/firewalld"))).toBe(false);
    fs.rmSync(absent.dir, { recursive: true, force: true });
  });

  it("SELinux permissive: setenforce 0 and the boot mode, recorded; the delete puts both back", () => {
    const p = parts(rhelModel(), "cp1");
    const config = "# This file controls the state of SELinux\nSELINUX=enforcing\nSELINUXTYPE=targeted\n";
    const run1 = runHost(p.apply, { selinux: "Enforcing", etc: { "etc/selinux/config": config } });
    expect(run1.read("mode")).toBe("Permissive\n");
    expect(run1.read("etc/selinux/config")).toBe(config.replace("SELINUX=enforcing", "SELINUX=permissive"));
    expect(run1.read("state/selinux-mode")).toBe("Enforcing\n");
    const undone = runHost(p.restore, {}, run1.dir);
    expect(undone.read("mode")).toBe("Enforcing\n");
    expect(undone.read("etc/selinux/config")).toBe(config);
    expect(undone.read("state/selinux-mode")).toBeUndefined();
    fs.rmSync(run1.dir, { recursive: true, force: true });
    // Already permissive: nothing to record, nothing to put back.
    const quiet = runHost(p.apply, { selinux: "Permissive", etc: { "etc/selinux/config": config.replace("enforcing", "permissive") } });
    expect(quiet.log.filter((l) => l.startsWith("setenforce"))).toEqual([]);
    expect(quiet.read("state/selinux-mode")).toBeUndefined();
    fs.rmSync(quiet.dir, { recursive: true, force: true });
  });

  it("SELinux enforcing on a balancer: setenforce 1 and haproxy_connect_any on, both undone; a disabled SELinux is refused", () => {
    const m = rhelModel({ selinux: "enforcing" });
    const p = parts(m, "lb1");
    const apply = p.apply.replace(/^KOP_PACKAGE_RECORD=.*container-selinux.*$/m, ": container-selinux is tested with dnf.sh");
    const config = "SELINUX=permissive\nSELINUXTYPE=targeted\n";
    const run1 = runHost(apply, { selinux: "Permissive", etc: { "etc/selinux/config": config } });
    expect(run1.read("mode")).toBe("Enforcing\n");
    expect(run1.read("etc/selinux/config")).toBe("SELINUX=enforcing\nSELINUXTYPE=targeted\n");
    expect(run1.log).toContain("setsebool -P haproxy_connect_any on");
    const undone = runHost(p.restore, {}, run1.dir);
    expect(undone.read("mode")).toBe("Permissive\n");
    expect(undone.log).toContain("setsebool -P haproxy_connect_any off");
    expect(undone.read("etc/selinux/config")).toBe(config);
    fs.rmSync(run1.dir, { recursive: true, force: true });
    expect(() => runHost(apply, { selinux: "Disabled" })).toThrow(
      /SELinux is disabled on lb1: enforcing needs the file system relabeled and a reboot/,
    );
  });
});
