/**
 * Hosts tier for the first three layers (issue 3): OS preparation, containerd from Debian's
 * packages with the rendered config, and kubeadm/kubelet/kubectl from a local apt repository
 * laid out like the per-minor Kubernetes repository (the real one cannot be reached here), then
 * the node's kubeadm configuration files: the steps node-prep bundles, one by one.
 * Every step runs twice (the second run must change nothing) and its delete must leave no trace.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelFromObject, type ClusterModel } from "../../components/config";
import { planCluster } from "../../components/plan";
import { NODE_PREP_PARTS } from "../../components/remote/bundle";
import type { StepSpec } from "../../components/remote/step";
import { requireRoot, startFakeAptRepo, startTestHosts, type TestHosts } from "./harness";
import { applyStep, fingerprintScript, shellOn } from "./steps";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";

const HOST = "node1";
const CRI_INFO_SRC = path.join(__dirname, "..", "..", "tools", "cri-info");

// Debian 12 and Debian 13 (each from its own cached rootfs; containerd 1.6 and 1.7 from the distribution).
const SUITES = [
  { suite: "bookworm", label: "Debian 12" },
  { suite: "trixie", label: "Debian 13" },
] as const;

for (const { suite, label } of SUITES) {
  describe(`hosts, container runtime and Kubernetes packages on a real ${label} host`, () => {
    let env: TestHosts;
    let repo: { baseUrl: string; stop(): Promise<void> };
    let model: ClusterModel;
    let steps: StepSpec[];
    let pristine: string;
    const timings: Record<string, number[]> = {};

    const fingerprint = async (mtimes = true) => {
      const paths = [...new Set([...steps.flatMap((s) => s.files.map((f) => f.path)), "/etc/hosts", "/etc/fstab", "/etc/hostname"])];
      const result = await env.run(HOST, fingerprintScript(paths, ["containerd", "kubelet", "chrony"], ["/etc/apt/sources.list.d", "/etc/apt/keyrings", "/etc/containerd", "/var/lib/kubeadm-on-pulumi", "/etc/modules-load.d", "/etc/sysctl.d", "/etc/kubernetes/kubeadm"], { mtimes }));
      expect(result.code, result.stderr).toBe(0);
      return result.stdout;
    };
    const sh = (script: string) => shellOn(env, HOST)(script);

    beforeAll(async () => {
      requireRoot();
      env = await startTestHosts([HOST], { suite });
      repo = await startFakeAptRepo();
      model = modelFromObject(
        {
          kubernetes: { version: "1.29.13" },
          mirrors: { kubernetesPackages: repo.baseUrl, sandboxImage: "registry.example.test/mirror/pause:3.9" },
          hosts: [{ name: HOST, address: env.hosts[0].address, roles: ["control-plane"] }],
        },
        "hosts-test",
      );
      // The preparation chain node-prep bundles (components/remote/bundle.ts), kubeadm-config included.
      steps = planCluster(model).steps.filter((s) => s.host === HOST && (["hosts", "runtime", "packages"].includes(s.layer) || s.id === `${HOST}/kubeadm-config`));
      expect(steps.map((s) => s.id)).toEqual(NODE_PREP_PARTS.map((part) => `${HOST}/${part}`));
      // The CRI client the checks use (a minimal `crictl info`), built from tools/cri-info.
      const binary = path.join(fs.mkdtempSync("/tmp/kop-cri-info-"), "cri-info");
      execFileSync("go", ["build", "-trimpath", "-o", binary, "."], { cwd: CRI_INFO_SRC, env: { ...process.env, CGO_ENABLED: "0" }, stdio: "inherit" });
      await env.copy(HOST, binary, "/usr/local/bin/cri-info");
      pristine = await fingerprint(false);
    });

    afterAll(async () => {
      await repo?.stop();
      await env?.teardown();
    });

    it("first run: every step succeeds and the host is ready for kubeadm", async () => {
      for (const step of steps) timings[step.id] = [(await applyStep(env, step)).ms];
      expect(await sh("swapon --show --noheadings | wc -l")).toBe("0");
      expect(await sh("cat /etc/modules-load.d/kubeadm-on-pulumi.conf")).toBe("# Managed by kubeadm-on-pulumi\noverlay\nbr_netfilter");
      expect(await sh("sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables")).toBe("1\n1");
      expect(await sh("hostname")).toBe(HOST);
      expect(await sh(". /etc/os-release && echo $VERSION_CODENAME")).toBe(suite);
      expect(await sh("grep -c kubeadm-on-pulumi /etc/hosts")).toBe("2");
      expect(await sh("systemctl is-active containerd")).toBe("active");
      const info = JSON.parse(await sh("cri-info"));
      expect(info.config.containerd.runtimes.runc.options.SystemdCgroup).toBe(true);
      expect(info.config.sandboxImage).toBe("registry.example.test/mirror/pause:3.9");
      expect(info.config.registry.configPath).toBe("/etc/containerd/certs.d");
      // Pinned to 1.29.13 although the repository also offers 1.29.14, and held.
      expect(await sh("kubeadm version -o short")).toBe("v1.29.13");
      expect(await sh("dpkg-query -W -f='${Version}' kubelet")).toBe("1.29.13-1.1");
      expect((await sh("apt-mark showhold")).split("\n").sort()).toEqual(["kubeadm", "kubectl", "kubelet"]);
      expect(await sh("systemctl is-enabled kubelet")).toBe("enabled");
      expect(await sh("cat /etc/apt/sources.list.d/kubernetes.list")).toBe(`deb [signed-by=/etc/apt/keyrings/kubernetes.asc] ${repo.baseUrl}/v1.29/deb/ /`);
      expect(await sh("ls /etc/kubernetes/kubeadm | grep -v kop-created")).toBe("converge.digest\nkubeadm.yaml");
    });

    it("second run changes nothing", async () => {
      const before = await fingerprint();
      for (const step of steps) timings[step.id].push((await applyStep(env, step)).ms);
      expect(await fingerprint()).toBe(before);
    });

    it("a registry-mirror change rewrites only the runtime config and restarts containerd", async () => {
      const changed = modelFromObject(
        {
          kubernetes: { version: "1.29.13" },
          mirrors: {
            kubernetesPackages: repo.baseUrl,
            sandboxImage: "registry.example.test/mirror/pause:3.9",
            registryMirrors: { "docker.io": ["https://hub-mirror.example.test"] },
          },
          hosts: [{ name: HOST, address: env.hosts[0].address, roles: ["control-plane"] }],
        },
        "hosts-test",
      );
      const ids = new Set(steps.map((s) => s.id));
      const newSteps = planCluster(changed).steps.filter((s) => ids.has(s.id));
      const differing = newSteps.filter((s) => steps.find((o) => o.id === s.id)?.script !== s.script).map((s) => s.id);
      expect(differing).toEqual([`${HOST}/runtime-config`]);
      const pidBefore = await sh("systemctl show -p MainPID --value containerd");
      await applyStep(env, newSteps.find((s) => s.id === `${HOST}/runtime-config`)!);
      expect(await sh("cat /etc/containerd/certs.d/docker.io/hosts.toml")).toContain('[host."https://hub-mirror.example.test"]');
      // hosts.toml is read per pull: no restart needed, none done.
      expect(await sh("systemctl show -p MainPID --value containerd")).toBe(pidBefore);
      // Back to the original config: the mirror file goes away again.
      await applyStep(env, steps.find((s) => s.id === `${HOST}/runtime-config`)!);
      expect(await sh("test -e /etc/containerd/certs.d/docker.io/hosts.toml && echo present || echo absent")).toBe("absent");
    });

    it("delete scripts, in reverse order, leave no trace", async () => {
      for (const step of [...steps].reverse()) await applyStep(env, step, { which: "delete" });
      expect(await fingerprint(false)).toBe(pristine);
      console.log("step timings (ms, first and second run):", JSON.stringify(timings));
    });
  });
}
