/**
 * Hosts tier for the kubeadm layers: the init, join, admission, drain, label, upgrade and teardown
 * scripts run over SSH on real Debian 12 test hosts, in the order the engine runs them.
 *
 * The real kubeadm, kubectl and crictl cannot be downloaded here. Stand-ins
 * (kubeadm-standins.sh) record every call's arguments and whatever reaches them on stdin, and
 * keep a small fake cluster state; the packages (and their version switches during upgrades)
 * are real apt operations against the signed local repository laid out like pkgs.k8s.io. What
 * this proves: the flags and their order, that secrets travel on stdin and never as arguments,
 * idempotency, the upgrade sequence, and that a removed node's host is left clean. It does not
 * prove that kubeadm accepts the flags: the render tier checks the configuration documents
 * against kubeadm's own Go types, and a real cluster run is described in docs/lifecycle.md.
 */
import { createHash, X509Certificate } from "node:crypto";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelFromObject, type ClusterModel } from "../../components/config";
import { planCluster } from "../../components/plan";
import type { StepSpec } from "../../components/remote/step";
import { requireRoot, startFakeAptRepo, startTestHosts, type FakeAptRepo, type TestHosts } from "./harness";
import { applyStep, execStep } from "./steps";

const HOSTS = ["cp1", "cp2", "w1"];
const SECRETS: Record<string, string> = {
  bootstrap_token: "kop123.0123456789abcdef",
  certificate_key: "c0ffee".padEnd(64, "0"),
};

describe("kubeadm lifecycle scripts on real hosts, with stand-in kubeadm/kubectl/crictl", () => {
  let env: TestHosts;
  let repo: FakeAptRepo;
  const models: Record<string, ClusterModel> = {};
  const plans: Record<string, Map<string, StepSpec>> = {};

  const modelAt = (version: string, over: Record<string, unknown> = {}): ClusterModel =>
    modelFromObject(
      {
        kubernetes: { version },
        controlPlaneEndpoint: { host: "k8s-api.test" },
        mirrors: { kubernetesPackages: repo.baseUrl, imageRepository: "registry.example.test/k8s" },
        lifecycle: { drainTimeoutSeconds: 60 },
        hosts: [
          { name: "cp1", address: env.host("cp1").address, roles: ["control-plane"] },
          { name: "cp2", address: env.host("cp2").address, roles: ["control-plane"] },
          // A third control plane for a valid stacked-etcd count; its steps are not run here.
          { name: "cp3", address: "10.213.0.250", roles: ["control-plane"] },
          {
            name: "w1",
            address: env.host("w1").address,
            roles: ["worker"],
            labels: { "node-role.kubernetes.io/worker": "", tier: "web" },
            taints: [{ key: "dedicated", value: "web", effect: "NoSchedule" }],
          },
        ],
        ...over,
      },
      "hosts-kubeadm",
    );
  const planOf = (m: ClusterModel) => new Map(planCluster(m).steps.map((s) => [s.id, s]));
  const step = (version: string, id: string) => {
    const found = plans[version].get(id);
    if (!found) throw new Error(`no step ${id}`);
    return found;
  };
  const apply = (s: StepSpec, which: "create" | "delete" = "create") => applyStep(env, s, { secrets: SECRETS, which });
  const sh = async (host: string, script: string) => {
    const r = await env.run(host, script);
    if (r.code !== 0) throw new Error(`${host}: ${script}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
  };
  const calls = async (host: string) => (await sh(host, "cat /var/log/kop-standin/calls.log 2>/dev/null || true")).split("\n").filter(Boolean);
  /** The latest stdin a stand-in recorded for a subcommand ("init", "join", "apply", "init-phase-upload-certs"). */
  const stdinOf = async (host: string, subcommand: string) => sh(host, `cat "$(ls -t /var/log/kop-standin/stdin-*-${subcommand} | head -n 1)"`);
  const fakeApi = (host: string, script: string) => sh(host, `set -e; S=/var/lib/fake-k8s; ${script}`);
  const register = (host: string, node: string, version: string) =>
    fakeApi(host, `mkdir -p $S/nodes/${node}/annotations $S/nodes/${node}/labels $S/nodes/${node}/taints; echo v${version} >$S/nodes/${node}/kubelet-version`);

  beforeAll(async () => {
    requireRoot();
    env = await startTestHosts(HOSTS);
    repo = await startFakeAptRepo({ versions: ["1.29.13", "1.29.14", "1.30.10"] });
    for (const v of ["1.29.13", "1.29.14", "1.30.10"]) {
      models[v] = modelAt(v);
      plans[v] = planOf(models[v]);
    }
    const standins = path.join(__dirname, "kubeadm-standins.sh");
    for (const host of HOSTS) {
      // Only the local Kubernetes repository: no traffic beyond the test network.
      await sh(host, "rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*");
      await apply(step("1.29.13", `${host}/hosts-file`));
      await apply(step("1.29.13", `${host}/kube-packages`));
      await env.copy(host, standins, "/root/kubeadm-standins.sh", 0o755);
      await sh(host, "/root/kubeadm-standins.sh");
    }
  }, 900_000);

  afterAll(async () => {
    await repo?.stop();
    await env?.teardown();
  });

  it("init on the first control plane: images pulled first, token and certificate key on stdin only, then the CA hash and the kubeconfig", async () => {
    const v = "1.29.13";
    await apply(step(v, "cp1/kubeadm-config"));
    await apply(step(v, "cp1/kubeadm-init"));
    const log = await calls("cp1");
    const pull = log.findIndex((l) => l.startsWith("kubeadm config images pull --config /etc/kubernetes/kubeadm/kubeadm.yaml"));
    const init = log.findIndex((l) => l.startsWith("kubeadm init "));
    expect(pull).toBeGreaterThanOrEqual(0);
    expect(init).toBeGreaterThan(pull);
    expect(log[init]).toBe("kubeadm init --config /dev/stdin --upload-certs --skip-token-print --skip-certificate-key-print");
    const config = await stdinOf("cp1", "init");
    expect(config).toContain(`token: ${SECRETS.bootstrap_token}`);
    expect(config).toContain(`certificateKey: ${SECRETS.certificate_key}`);
    expect(config).toContain("kubernetesVersion: v1.29.13");
    expect(config).not.toContain("KOP_SECRET_");
    // The placed file has no secret; nothing on disk but the stand-in's own record has one.
    expect(await sh("cp1", "grep -rl -e kop123 -e c0ffee /etc/kubernetes /var/lib/kubeadm-on-pulumi || true")).toBe("");

    const hash = (await apply(step(v, "cp1/cluster-ca-hash"))).stdout.trim();
    const ca = new X509Certificate(await sh("cp1", "cat /etc/kubernetes/pki/ca.crt"));
    const der = ca.publicKey.export({ type: "spki", format: "der" });
    expect(hash).toBe(`sha256:${createHash("sha256").update(der).digest("hex")}`);
    SECRETS.ca_cert_hash = hash;

    const kubeconfig = (await apply(step(v, "cp1/admin-kubeconfig"))).stdout;
    expect(kubeconfig).toContain("    server: https://k8s-api.test:6443");
    expect(kubeconfig).not.toContain(env.host("cp1").address);

    SECRETS.node_upgrader_kubeconfig = (await apply(step(v, "cp1/node-upgrader"))).stdout;
    expect(SECRETS.node_upgrader_kubeconfig).toContain('user: {token: "fake-sa-token"}');
    expect(SECRETS.node_upgrader_kubeconfig).toContain('server: "https://k8s-api.test:6443"');
    expect(await stdinOf("cp1", "apply")).toContain('resourceNames: ["kubeadm-on-pulumi-upgrade-slot-0"]');
    await apply(step(v, "cp1/node-labels"));
  });

  it("a worker joins: a 24-hour token applied from stdin on cp1 first, then kubeadm join with the CA hash; the node is current, so no upgrade", async () => {
    const v = "1.29.13";
    await apply(step(v, "w1/kubeadm-config"));
    await apply(step(v, "cp1/worker-admission"));
    const token = await stdinOf("cp1", "apply");
    expect(token).toContain("type: bootstrap.kubernetes.io/token");
    expect(token).toContain("name: bootstrap-token-kop123");
    expect(token).toContain(`token-secret: ${Buffer.from("0123456789abcdef").toString("base64")}`);
    const expires = /expiration: (\S+)/.exec(token)![1];
    const hours = (Date.parse(Buffer.from(expires, "base64").toString()) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);

    await apply(step(v, "w1/kubeadm-join"));
    expect(await calls("w1")).toContain("kubeadm join --config /dev/stdin");
    expect((await calls("w1")).filter((l) => l.startsWith("kubeadm upgrade") || l.includes("drain"))).toEqual([]);
    const join = await stdinOf("w1", "join");
    expect(join).toContain(`token: ${SECRETS.bootstrap_token}`);
    expect(join).toContain(`- ${SECRETS.ca_cert_hash}`);
    expect(join).toContain("apiServerEndpoint: k8s-api.test:6443");
    expect(join).not.toContain("controlPlane:");

    // The cluster now knows the node (the stand-in API is per host: the test plays the API server).
    await register("cp1", "w1", v);
    await apply(step(v, "w1/node"));
    expect(await fakeApi("cp1", "cat $S/nodes/w1/labels/tier; echo; cat $S/nodes/w1/taints/dedicated:NoSchedule")).toBe("web\ndedicated=web:NoSchedule");
  });

  it("a control plane joins after the configuration is refreshed and the certificates are uploaded under the key", async () => {
    const v = "1.29.13";
    await apply(step(v, "cp2/kubeadm-config"));
    const before = (await calls("cp1")).length;
    await apply(step(v, "cp2/admit"));
    const admitted = (await calls("cp1")).slice(before);
    expect(admitted.filter((l) => l.startsWith("kubeadm "))).toEqual([
      "kubeadm init phase upload-config kubeadm --config /etc/kubernetes/kubeadm/kubeadm.yaml",
      "kubeadm init phase upload-certs --upload-certs --skip-certificate-key-print --config /dev/stdin",
    ]);
    expect(await stdinOf("cp1", "init-phase-upload-certs")).toContain(`certificateKey: ${SECRETS.certificate_key}`);
    await apply(step(v, "cp2/kubeadm-join"));
    const joined = await calls("cp2");
    expect(joined.indexOf("kubeadm join --config /dev/stdin")).toBeGreaterThan(joined.findIndex((l) => l.startsWith("kubeadm config images pull")));
    const join = await stdinOf("cp2", "join");
    expect(join).toContain(`certificateKey: ${SECRETS.certificate_key}`);
    expect(join).toContain(`advertiseAddress: ${env.host("cp2").address}`);
    await register("cp1", "cp2", v);
    await apply(step(v, "cp2/node"));
  });

  it("never passes a secret as an argument, and a second run of every step changes nothing", async () => {
    const v = "1.29.13";
    for (const host of HOSTS) {
      const log = (await calls(host)).join("\n");
      for (const secret of [SECRETS.bootstrap_token, "0123456789abcdef", SECRETS.certificate_key, SECRETS.ca_cert_hash]) expect(log).not.toContain(secret);
    }
    const counts = await Promise.all(HOSTS.map(async (h) => (await calls(h)).filter((l) => /^kubeadm (init --|join)/.test(l)).length));
    for (const id of ["cp1/kubeadm-init", "cp1/worker-admission", "w1/kubeadm-join", "cp2/kubeadm-join", "w1/node"]) await apply(step(v, id));
    const after = await Promise.all(HOSTS.map(async (h) => (await calls(h)).filter((l) => /^kubeadm (init --|join)/.test(l)).length));
    expect(after).toEqual(counts);
  });

  it("labels and taints follow the config: ones it set and no longer lists are removed", async () => {
    const hosts = models["1.29.13"].hosts.map((h) => ({ name: h.name, address: h.address, roles: h.roles, ...(h.name === "w1" ? { labels: { tier: "api" } } : {}) }));
    const changed = planOf(modelAt("1.29.13", { hosts }));
    await apply(changed.get("w1/node")!);
    expect(await fakeApi("cp1", "ls $S/nodes/w1/labels; ls $S/nodes/w1/taints; cat $S/nodes/w1/labels/tier")).toBe("tier\napi");
    await apply(step("1.29.13", "w1/node"));
  });

  it("patch upgrade 1.29.13 -> 1.29.14: cp1 (upgrade apply), then cp2 (upgrade node), then the worker holding a slot; each kubelet drained and uncordoned", async () => {
    const v = "1.29.14";
    await fakeApi("cp2", "echo 1.29.13 >$S/version");
    await register("cp2", "cp2", "1.29.13");
    await register("w1", "w1", "1.29.13");
    await apply(step(v, "cp1/kubeadm-config"));
    const start = (await calls("cp1")).length;
    await apply(step(v, "cp1/kubeadm-upgrade"));
    const cp1 = (await calls("cp1")).slice(start);
    const at = (prefix: string) => cp1.findIndex((l) => l.startsWith(prefix));
    const sequence = [
      "kubeadm config images pull",
      "kubeadm init phase upload-config kubeadm",
      "kubeadm init phase upload-config kubelet",
      "kubeadm upgrade plan v1.29.14",
      "kubeadm upgrade apply v1.29.14 --yes",
      "kubeadm init phase addon kube-proxy",
      "kubectl [file:/etc/kubernetes/admin.conf] drain cp1 --ignore-daemonsets --delete-emptydir-data --timeout=60s",
      "kubectl [file:/etc/kubernetes/admin.conf] uncordon cp1",
    ];
    expect(sequence.map(at).every((p, i, all) => p >= 0 && (i === 0 || p > all[i - 1])), cp1.join("\n")).toBe(true);
    expect(cp1).toContain("kubectl [file:/etc/kubernetes/admin.conf] rollout restart daemonset kube-proxy");
    expect(await sh("cp1", "dpkg-query -W -f='${Version} ' kubeadm kubelet kubectl; apt-mark showhold | sort | tr '\\n' ' '")).toBe(
      "1.29.14-1.1 1.29.14-1.1 1.29.14-1.1 kubeadm kubectl kubelet",
    );
    // Uncordoned, and our cordon mark is gone with it.
    expect(await fakeApi("cp1", "ls $S/nodes/cp1/annotations | grep -c cordoned || true; cat $S/nodes/cp1/unschedulable 2>/dev/null || echo schedulable")).toBe("0\nschedulable");

    await apply(step(v, "cp2/kubeadm-config"));
    await apply(step(v, "cp2/kubeadm-upgrade"));
    const cp2 = await calls("cp2");
    expect(cp2.indexOf("kubeadm upgrade node")).toBeGreaterThan(cp2.findIndex((l) => l.startsWith("kubeadm config images pull")));
    expect(await sh("cp2", "cat /etc/kubernetes/manifests/kube-apiserver.yaml")).toBe("image: registry.example/kube-apiserver:v1.29.14");

    await apply(step(v, "w1/kubeadm-config"));
    await apply(step(v, "w1/kubeadm-join"));
    const w1 = await calls("w1");
    const pipe = /^kubectl \[pipe:[0-9a-f]{12}\] /;
    const kubectlCalls = w1.filter((l) => l.startsWith("kubectl "));
    expect(kubectlCalls.length).toBeGreaterThan(0);
    expect(kubectlCalls.every((l) => pipe.test(l)), kubectlCalls.join("\n")).toBe(true);
    const order = ["kubeadm upgrade node", "create configmap kubeadm-on-pulumi-upgrade-slot-0 --from-literal=holder=w1", "drain w1", "uncordon w1", "delete configmap kubeadm-on-pulumi-upgrade-slot-0"];
    const positions = order.map((o) => w1.findIndex((l) => l.includes(o)));
    expect(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1])), w1.join("\n")).toBe(true);
    expect(await sh("w1", "kubelet --version; dpkg-query -W -f='${Version}' kubectl")).toBe("Kubernetes v1.29.14\n1.29.14-1.1");
    expect(await fakeApi("w1", "ls $S/configmaps | wc -l")).toBe("0");
  });

  it("a second run of the upgrade steps changes nothing", async () => {
    const before = await Promise.all(HOSTS.map(async (h) => (await calls(h)).filter((l) => /^kubeadm (upgrade|init phase)|drain/.test(l)).length));
    for (const id of ["cp1/kubeadm-upgrade", "cp2/kubeadm-upgrade", "w1/kubeadm-join"]) await apply(step("1.29.14", id));
    const after = await Promise.all(HOSTS.map(async (h) => (await calls(h)).filter((l) => /^kubeadm (upgrade|init phase)|drain/.test(l)).length));
    expect(after).toEqual(before);
  });

  it("minor upgrade 1.29.14 -> 1.30.10 switches every node to the v1.30 repository", async () => {
    const v = "1.30.10";
    for (const id of ["cp1/kubeadm-config", "cp1/kubeadm-upgrade", "cp2/kubeadm-config", "cp2/kubeadm-upgrade", "w1/kubeadm-config", "w1/kubeadm-join"]) await apply(step(v, id));
    for (const host of HOSTS) {
      expect(await sh(host, "cat /etc/apt/sources.list.d/kubernetes.list")).toContain(`${repo.baseUrl}/v1.30/deb/ /`);
      expect(await sh(host, "kubeadm version -o short; kubelet --version")).toBe("v1.30.10\nKubernetes v1.30.10");
    }
    expect(await fakeApi("cp1", "cat $S/version")).toBe("1.30.10");
  });

  it("refuses at run time to skip a minor version or go back, before any package moves", async () => {
    await fakeApi("cp1", "echo 1.28.15 >$S/version");
    const skip = await execStep(env, step("1.30.10", "cp1/kubeadm-upgrade"), { secrets: SECRETS });
    expect(skip.code).not.toBe(0);
    expect(skip.stderr).toContain("the cluster runs 1.28.15; 1.30.10 skips minor version 1.29: set cluster:kubernetes.version to 1.29.x first");
    await fakeApi("cp1", "echo 1.30.10 >$S/version");
    const back = await execStep(env, step("1.29.14", "cp1/kubeadm-upgrade"), { secrets: SECRETS });
    expect(back.code).not.toBe(0);
    expect(back.stderr).toContain("going back to 1.29.14 is a downgrade");
    expect(await sh("cp1", "kubeadm version -o short")).toBe("v1.30.10");
  });

  it("an unreachable image registry fails the upgrade early and names the key to fix", async () => {
    await fakeApi("cp1", "touch $S/fail-image-pull");
    const mirrored = planOf(modelAt("1.30.10", { mirrors: { kubernetesPackages: repo.baseUrl, imageRepository: "registry.unreachable.test/k8s" } }));
    await apply(mirrored.get("cp1/kubeadm-config")!);
    const r = await execStep(env, mirrored.get("cp1/kubeadm-upgrade")!, { secrets: SECRETS });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("cannot pull the control-plane images from registry.unreachable.test/k8s: check cluster:mirrors.imageRepository");
    expect((await calls("cp1")).slice(-1)[0]).toMatch(/^kubeadm config images pull/);
    await fakeApi("cp1", "rm $S/fail-image-pull");
    await apply(step("1.30.10", "cp1/kubeadm-config"));
  });

  it("a drain blocked by a disruption budget stops the removal with the timeout's key", async () => {
    await fakeApi("cp1", "touch $S/drain-blocked");
    const r = await execStep(env, step("1.30.10", "w1/node"), { secrets: SECRETS, which: "delete" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("draining w1 did not finish within 60s (cluster:lifecycle.drainTimeoutSeconds)");
    await fakeApi("cp1", "rm $S/drain-blocked; rm -f $S/nodes/w1/unschedulable");
  });

  it("removing the worker: drained on cp1, reset and cleaned on w1 (host rules kept), then its Node object deleted from w1 with the node-upgrader credential", async () => {
    const v = "1.30.10";
    await sh(
      "w1",
      [
        "mkdir -p /etc/cni/net.d /var/lib/kubelet/pods && echo '{}' >/etc/cni/net.d/10-flannel.conflist",
        "ip link add cni0 type bridge && ip link add flannel.1 type dummy && ip link add cali0123abcd type dummy",
        "iptables -N KUBE-SERVICES && iptables -A INPUT -j KUBE-SERVICES && iptables -t nat -N KUBE-POSTROUTING && iptables -t nat -A POSTROUTING -m comment --comment 'kubernetes postrouting rules' -j KUBE-POSTROUTING",
        "iptables -N HOST-OWN && iptables -A INPUT -s 192.0.2.1 -j HOST-OWN",
      ].join("\n"),
    );
    const before = (await calls("cp1")).length;
    const beforeW1 = (await calls("w1")).length;
    await apply(step(v, "w1/node"), "delete");
    expect((await calls("cp1")).slice(before)).toContain("kubectl [file:/etc/kubernetes/admin.conf] drain w1 --ignore-daemonsets --delete-emptydir-data --force --timeout=60s");
    // The stand-in API is per host: play the shared API server, in which w1 is now cordoned.
    await fakeApi("w1", "echo true >$S/nodes/w1/unschedulable");
    await apply(step(v, "w1/kubeadm-join"), "delete");
    const w1 = (await calls("w1")).slice(beforeW1);
    const reset = w1.indexOf("kubeadm reset -f --cri-socket unix:///run/containerd/containerd.sock");
    expect(reset).toBeGreaterThanOrEqual(0);
    expect(w1.findIndex((l) => /^kubectl \[pipe:[0-9a-f]{12}\] delete node w1 --ignore-not-found$/.test(l)), w1.join("\n")).toBeGreaterThan(reset);
    expect(await fakeApi("w1", "ls $S/nodes")).not.toContain("w1");
    await fakeApi("cp1", "rm -rf $S/nodes/w1");
    expect(await sh("w1", "ip -o link show | grep -cE 'cni0|flannel|cali' || true")).toBe("0");
    const rules = await sh("w1", "iptables-save");
    expect(rules).not.toContain("KUBE-");
    expect(rules).toContain("-A INPUT -s 192.0.2.1/32 -j HOST-OWN");
    expect(await sh("w1", "ls -d /etc/kubernetes /var/lib/kubelet /etc/cni/net.d 2>/dev/null || true")).toBe("");
    expect(await sh("w1", "ls /var/lib/kubeadm-on-pulumi | grep -E 'kubeadm-(join|init)|kubeadm-config' || true")).toBe("");
    // The host is ready for a fresh join: the packages step's delete then removes the packages.
    await apply(step(v, "w1/kube-packages"), "delete");
    expect(await sh("w1", "dpkg-query -W kubeadm kubelet kubectl 2>&1 | grep -c 'no packages found' || true")).toBe("3");
  });

  it("removing a control plane: drained and its etcd member removed through cp1's etcd, then reset", async () => {
    const v = "1.30.10";
    const cp2Id = "8e9e05c52164694d";
    await fakeApi("cp1", `printf '%s\\n' "aaaaaaaaaaaaaaaa, started, cp1, https://x:2380, https://x:2379, false" "${cp2Id}, started, cp2, https://y:2380, https://y:2379, false" >$S/etcd-members`);
    const before = (await calls("cp1")).length;
    await apply(step(v, "cp2/node"), "delete");
    const cp1 = (await calls("cp1")).slice(before);
    const drain = cp1.findIndex((l) => l.includes("drain cp2"));
    const remove = cp1.findIndex((l) => l.includes(`member remove ${cp2Id}`));
    expect(drain).toBeGreaterThanOrEqual(0);
    expect(remove).toBeGreaterThan(drain);
    expect(cp1[remove]).toMatch(/^crictl exec fake-etcd-container etcdctl --endpoints=https:\/\/127\.0\.0\.1:2379 .* member remove /);
    expect(await fakeApi("cp1", "cat $S/etcd-members")).not.toContain("cp2");
    await apply(step(v, "cp2/kubeadm-join"), "delete");
    await apply(step(v, "cp2/admit"), "delete");
    expect(await sh("cp2", "ls -d /etc/kubernetes /var/lib/etcd 2>/dev/null || true")).toBe("");
    expect(await fakeApi("cp1", "ls $S/nodes")).toBe("cp1");
  });

  it("destroy: the first control plane's reset leaves it ready for a fresh pulumi up", async () => {
    await apply(step("1.30.10", "cp1/kubeadm-init"), "delete");
    expect(await sh("cp1", "ls -d /etc/kubernetes /var/lib/kubelet /var/lib/etcd 2>/dev/null || true")).toBe("");
    expect(await sh("cp1", "ls /var/lib/kubeadm-on-pulumi | grep -E '^kubeadm-' || true")).toBe("");
    await apply(step("1.30.10", "cp1/kubeadm-config"));
    await apply(step("1.30.10", "cp1/kubeadm-init"));
    expect((await calls("cp1")).filter((l) => l.startsWith("kubeadm init --config")).length).toBe(2);
  });
});
