/**
 * Hosts tier for node-prep (components/remote/bundle.ts): the engine runs a host's preparation
 * chain as one step whose parts re-run only when their script changed or one of their files'
 * applied records is missing or stale. On a real Debian 12 host: the first run prepares it as
 * the separate steps do (test/hosts/node.test.ts); a second run skips every part and touches
 * nothing; a registry-mirror change re-runs only the runtime-config part (containerd keeps
 * running); a drift repair's stale record re-runs the part that owns the file; the delete script,
 * also kept on the host as the way back, leaves the host as it was.
 *
 *   flock /tmp/kop-hosts.lock npx vitest run --project hosts test/hosts/node-prep.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelFromObject } from "../../components/config";
import { planEngine } from "../../components/plan";
import { NODE_PREP_PARTS, nodePrepId, UNDO_DIR } from "../../components/remote/bundle";
import type { StepSpec } from "../../components/remote/step";
import { requireRoot, startFakeAptRepo, startTestHosts, type TestHosts } from "./harness";
import { applyStep, execStep, fingerprintScript, shellOn } from "./steps";

const HOST = "prep1";

describe("node-prep: a host's preparation chain as one step, on a real Debian 12 host", () => {
  let env: TestHosts;
  let repo: { baseUrl: string; stop(): Promise<void> };
  let prep: StepSpec;
  let pristine: string;

  const section = (mirrors: Record<string, unknown> = {}) => ({
    kubernetes: { version: "1.29.13" },
    mirrors: { kubernetesPackages: repo.baseUrl, sandboxImage: "registry.example.test/mirror/pause:3.9", ...mirrors },
    hosts: [{ name: HOST, address: env.hosts[0].address, roles: ["control-plane"] }],
  });
  const nodePrep = (mirrors: Record<string, unknown> = {}) => planEngine(modelFromObject(section(mirrors), "node-prep-test")).steps.find((s) => s.id === nodePrepId(HOST))!;
  const fingerprint = async (mtimes = true) => {
    const paths = [...new Set([...prep.files.map((f) => f.path), "/etc/hosts", "/etc/fstab", "/etc/hostname", "/etc/crictl.yaml"])];
    const dirs = ["/etc/apt/sources.list.d", "/etc/apt/keyrings", "/etc/containerd", "/var/lib/kubeadm-on-pulumi", "/etc/modules-load.d", "/etc/sysctl.d", "/etc/kubernetes/kubeadm"];
    const result = await env.run(HOST, fingerprintScript(paths, ["containerd", "kubelet", "chrony"], dirs, { mtimes }));
    expect(result.code, result.stderr).toBe(0);
    return result.stdout;
  };
  const sh = (script: string) => shellOn(env, HOST)(script);
  /** The parts a run of node-prep ran, from its log ("kop: <part>: running"). */
  const ran = (stderr: string) => [...stderr.matchAll(/^kop: ([a-z-]+): running$/gm)].map((m) => m[1]);

  beforeAll(async () => {
    requireRoot();
    env = await startTestHosts([HOST]);
    repo = await startFakeAptRepo();
    prep = nodePrep();
    pristine = await fingerprint(false);
  });

  afterAll(async () => {
    await repo?.stop();
    await env?.teardown();
  });

  it("first run: every part runs, in order, and the host is ready for kubeadm", async () => {
    const first = await applyStep(env, prep);
    expect(ran(first.stderr)).toEqual([...NODE_PREP_PARTS]);
    expect(await sh("systemctl is-active containerd")).toBe("active");
    expect(await sh("kubeadm version -o short")).toBe("v1.29.13");
    expect((await sh("apt-mark showhold")).split("\n").sort()).toEqual(["kubeadm", "kubectl", "kubelet"]);
    expect(await sh("sysctl -n net.ipv4.ip_forward")).toBe("1");
    expect(await sh("ls /etc/kubernetes/kubeadm | grep -v kop-created")).toBe("converge.digest\nkubeadm.yaml");
    // The way back is on the host before anything else ran, and it is what the step's delete runs.
    const undo = await sh(`cat ${UNDO_DIR}/node-prep.sh`);
    expect(undo.split("\n")[1]).toBe(`# kubeadm-on-pulumi: undo the node preparation of ${HOST} (${[...NODE_PREP_PARTS].reverse().join(", ")})`);
    for (const part of NODE_PREP_PARTS) expect(undo).toContain(`kop_undo_part '${part}' <<`);
    expect(prep.deleteScript).toContain(`exec bash ${UNDO_DIR}/node-prep.sh`);
    console.log(`node-prep first run: ${first.ms} ms`);
  });

  it("second run: every part is skipped and nothing on the host changes", async () => {
    const before = await fingerprint();
    const second = await applyStep(env, prep);
    expect(ran(second.stderr)).toEqual([]);
    for (const part of NODE_PREP_PARTS) expect(second.stderr).toContain(`kop: ${part}: applied, unchanged`);
    expect(await fingerprint()).toBe(before);
    console.log(`node-prep second run: ${second.ms} ms`);
  });

  it("a registry-mirror change re-runs only the runtime-config part; containerd keeps running", async () => {
    const pid = await sh("systemctl show -p MainPID --value containerd");
    const changed = await applyStep(env, nodePrep({ registryMirrors: { "docker.io": ["https://hub-mirror.example.test"] } }));
    expect(ran(changed.stderr)).toEqual(["runtime-config"]);
    expect(await sh("cat /etc/containerd/certs.d/docker.io/hosts.toml")).toContain('[host."https://hub-mirror.example.test"]');
    expect(await sh("systemctl show -p MainPID --value containerd")).toBe(pid);
    const back = await applyStep(env, prep);
    expect(ran(back.stderr)).toEqual(["runtime-config"]);
    expect(await sh("test -e /etc/containerd/certs.d/docker.io/hosts.toml && echo present || echo absent")).toBe("absent");
  });

  it("a drift repair (the file's applied record marked stale) re-runs the part that owns the file", async () => {
    await sh("echo stale >/var/lib/kubeadm-on-pulumi/applied/etc/sysctl.d/99-kubeadm-on-pulumi.conf");
    const repaired = await applyStep(env, prep);
    expect(ran(repaired.stderr)).toEqual(["os-prep"]);
    expect(await sh("cut -d' ' -f1 /var/lib/kubeadm-on-pulumi/applied/etc/sysctl.d/99-kubeadm-on-pulumi.conf")).toBe(await sh("sha256sum /etc/sysctl.d/99-kubeadm-on-pulumi.conf | cut -d' ' -f1"));
  });

  it("a failing part stops the run there and names it; the next run starts again at that part", async () => {
    // A patch bump changes the package and kubeadm parts; with the packages gone and the repository down, the package part fails.
    const bumped = planEngine(modelFromObject({ ...section(), kubernetes: { version: "1.29.14" } }, "node-prep-test")).steps.find((s) => s.id === nodePrepId(HOST))!;
    await sh("apt-mark unhold kubeadm kubelet kubectl >/dev/null && apt-get purge -y -q kubeadm kubelet kubectl >/dev/null 2>&1");
    const port = Number(new URL(repo.baseUrl).port);
    await repo.stop();
    const failed = await execStep(env, bumped);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/kop: ERROR: kube-packages failed \(exit \d+\): nothing after it ran; the next run starts again at kube-packages/);
    expect(ran(failed.stderr)).toEqual(["kube-packages"]);
    repo = await startFakeAptRepo({ port });
    const again = await applyStep(env, bumped);
    expect(ran(again.stderr)).toEqual(["kube-packages", "kubeadm-config"]);
    expect(await sh("kubeadm version -o short")).toBe("v1.29.14");
  });

  it("the delete script undoes every part in reverse order and leaves the host as it was", async () => {
    await applyStep(env, prep, { which: "delete" });
    expect(await fingerprint(false)).toBe(pristine);
  });
});
