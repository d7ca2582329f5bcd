import * as pulumi from "@pulumi/pulumi";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { renderKubePackages } from "../../components/kube-packages/plan";
import { certificateExpiryCommands } from "../../components/lifecycle/certs";
import { lifecycleChangeFailures, lifecycleGuardProvider, membershipState, type MembershipState } from "../../components/lifecycle/guard";
import { renderControlPlaneUpgrade, renderFirstControlPlaneUpgrade } from "../../components/lifecycle/upgrade";
import { renderWorkerJoinStep } from "../../components/workers/join";
import { haSection, model } from "./fixtures";

const state = (over: Partial<MembershipState> = {}): MembershipState => ({
  version: "1.29.13",
  firstControlPlane: "cp1",
  controlPlanes: ["cp1", "cp2", "cp3"],
  etcdTopology: "stacked",
  etcdMembers: [],
  ...over,
});
const reasons = (olds: Partial<MembershipState> | undefined, news: MembershipState) => lifecycleChangeFailures(olds, news).map((f) => `${f.property}: ${f.reason}`);

describe("lifecycle guard (the dynamic provider's check, which runs during preview)", () => {
  it("lets a new cluster through, and patch or next-minor upgrades", () => {
    expect(reasons(undefined, state())).toEqual([]);
    expect(reasons(state(), state({ version: "1.29.14" }))).toEqual([]);
    expect(reasons(state(), state({ version: "1.30.9" }))).toEqual([]);
  });

  it("refuses skipping a minor version and downgrades, naming the key and the way forward", () => {
    expect(reasons(state(), state({ version: "1.31.4" }))).toEqual([
      "version: cluster:kubernetes.version: 1.29.13 -> 1.31.4 skips 1.30; kubeadm upgrades one minor version at a time: set 1.30.x, run pulumi up, then 1.31.4",
    ]);
    expect(reasons(state({ version: "1.30.9" }), state({ version: "1.29.13" }))[0]).toMatch(/1\.30\.9 -> 1\.29\.13 is a downgrade/);
    expect(reasons(state({ version: "1.30.9" }), state({ version: "1.30.2" }))[0]).toMatch(/downgrade/);
  });

  it("refuses losing or replacing the first control plane", () => {
    expect(reasons(state(), state({ firstControlPlane: "cp2", controlPlanes: ["cp2", "cp3"] }))[0]).toBe(
      "firstControlPlane: cluster:hosts: cp1 must stay the first host with the control-plane role: kubeadm init ran there and the cluster-side steps (tokens, drains, upgrades) run there; it cannot be removed while the cluster exists",
    );
    expect(reasons(state(), state({ firstControlPlane: "cp2", controlPlanes: ["cp2", "cp1", "cp3"] }))[0]).toMatch(/restore the order of cluster:hosts/);
    expect(reasons(state(), state({ controlPlanes: [] }))[0]).toMatch(/the last control plane cannot be removed/);
  });

  it("refuses removals that would break etcd quorum, allows what a quorum survives", () => {
    const five = state({ controlPlanes: ["cp1", "cp2", "cp3", "cp4", "cp5"] });
    expect(reasons(five, state())).toEqual([]); // 2 of 5 removed: 3 remain, a quorum of 5
    expect(reasons(state(), state({ controlPlanes: ["cp1"] }))).toEqual([
      "controlPlanes: cluster:hosts: removing cp2, cp3 takes 2 of 3 control planes (stacked etcd members) away at once; etcd keeps quorum only if at most 1 go per update: remove at most 1 now and the rest in later updates",
    ]);
    const external = state({ etcdTopology: "external", etcdMembers: ["e1", "e2", "e3"] });
    expect(reasons(external, { ...external, etcdMembers: ["e1"] })[0]).toMatch(/^etcdMembers: .*removing e2, e3 takes 2 of 3 etcd members/);
    // With external etcd, control planes are not etcd members.
    expect(reasons(external, { ...external, controlPlanes: ["cp1"] })).toEqual([]);
    expect(reasons(state(), state({ etcdTopology: "external", etcdMembers: ["e1", "e2", "e3"] }))[0]).toMatch(/stacked -> external/);
  });

  it("refuses an upgrade together with control-plane changes", () => {
    expect(reasons(state(), state({ version: "1.30.9", controlPlanes: ["cp1", "cp2", "cp3", "cp4", "cp5"] }))[0]).toMatch(/separate updates/);
  });

  it("reads the state from the model: workers are not part of it", () => {
    const m = model(haSection(3));
    expect(membershipState(m)).toEqual(state());
    expect(membershipState(model(haSection(7)))).toEqual(state());
  });

  it("answers check() like the engine asks: failures for preview, new inputs otherwise", async () => {
    const ok = await lifecycleGuardProvider.check!(state(), state({ version: "1.30.1" }));
    expect(ok.failures).toEqual([]);
    expect(ok.inputs).toEqual(state({ version: "1.30.1" }));
    const bad = await lifecycleGuardProvider.check!(state(), state({ version: "1.32.0" }));
    expect(bad.failures!.map((f) => f.property)).toEqual(["version"]);
    // First creation: the engine passes empty olds.
    expect((await lifecycleGuardProvider.check!({}, state())).failures).toEqual([]);
    expect((await lifecycleGuardProvider.diff!("lifecycle-guard", state(), state())).changes).toBe(false);
    expect((await lifecycleGuardProvider.diff!("lifecycle-guard", state(), state({ version: "1.29.14" }))).changes).toBe(true);
  });

  it("still refuses after Pulumi serializes the provider into the stack and loads it in a fresh process", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-guard-"));
    try {
      const serialized = await pulumi.runtime.serializeFunction(() => lifecycleGuardProvider, { allowSecrets: true });
      fs.writeFileSync(path.join(dir, "provider.js"), serialized.text);
      const loader = require.resolve("require-from-string", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] });
      const program = `
        const provider = require(${JSON.stringify(loader)})(require("fs").readFileSync(${JSON.stringify(path.join(dir, "provider.js"))}, "utf8")).handler();
        provider.check(${JSON.stringify(state())}, ${JSON.stringify(state({ version: "1.31.0" }))})
          .then((r) => { console.log(JSON.stringify(r.failures)); process.exit(0); }, (e) => { console.error(e); process.exit(1); });`;
      const stdout = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ["-e", program], { timeout: 60_000 }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out))),
      );
      expect(JSON.parse(stdout.trim())).toEqual([{ property: "version", reason: expect.stringContaining("skips 1.30") }]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("upgrade steps", () => {
  const m = model(haSection(2));
  const host = (name: string) => m.hosts.find((h) => h.name === name)!;

  it("first control plane: version path checked before any package moves, kubeadm first, configuration uploaded, upgrade plan/apply, kube-proxy, then its kubelet", () => {
    const text = renderFirstControlPlaneUpgrade(m, host("cp1"), undefined);
    const order = [
      'kop_check_upgrade_path "$current" "$target"',
      "kop_kube_package kubeadm",
      "kop_pull_images /etc/kubernetes/kubeadm/kubeadm.yaml",
      "kubeadm init phase upload-config kubeadm --config",
      "kubeadm init phase upload-config kubelet --config",
      'kubeadm upgrade plan "v$target"',
      'kubeadm upgrade apply "v$target" --yes',
      "kubeadm init phase addon kube-proxy --config",
      "kop_upgrade_kubelet 'cp1' \"$target\" \"$package\" 300",
    ];
    const positions = order.map((s) => text.lastIndexOf(s));
    expect(positions.every((p) => p > 0), order.filter((_, i) => positions[i] < 0).join(", ")).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(text).toContain("target=1.29.13");
    expect(text).toContain("package=1.29.13-1.1");
    expect(text).toContain("/v1.29/deb/");
  });

  it("other control planes: kubeadm upgrade node; workers: an upgrade slot of upgradeBatchSize and the node-upgrader credential", () => {
    expect(renderControlPlaneUpgrade(m, host("cp2"), undefined)).toContain('kubeadm upgrade node || kop_fail');
    const section = haSection(2);
    section.lifecycle = { upgradeBatchSize: 3, drainTimeoutSeconds: 120 };
    const batched = model(section);
    const worker = renderWorkerJoinStep(batched, batched.hosts.find((h) => h.name === "w1")!, undefined).script;
    expect(worker).toContain("kop_slot_acquire 'w1' 3 10800");
    expect(worker).toContain("kop_upgrade_kubelet 'w1' \"$target\" \"$package\" 120");
    expect(worker).toContain("KOP_KUBECONFIG_SECRET=SECRET_node_upgrader_kubeconfig");
    expect(worker).toContain("kop_secret node_upgrader_kubeconfig");
    // The upgrade follows the join (done once) in the worker's one kubeadm step.
    expect(worker.indexOf("kubeadm join --config /dev/stdin")).toBeGreaterThan(0);
    expect(worker.indexOf("kubeadm upgrade node")).toBeGreaterThan(worker.indexOf("kubeadm join --config /dev/stdin"));
  });
});

describe("package steps and certificates", () => {
  it("installs the pinned version only when kubeadm, kubelet and kubectl are missing", () => {
    const m = model(haSection(1));
    const text = renderKubePackages(m, m.hosts.find((h) => h.name === "w1")!).script;
    expect(text).toMatch(/if kop_pkg_installed kubeadm && kop_pkg_installed kubelet && kop_pkg_installed kubectl; then\n.*version changes go through the upgrade steps/);
    expect(text.indexOf("'kubeadm=1.29.13-1.1'")).toBeGreaterThan(text.indexOf("else"));
  });

  it("gives one certificate-expiry command per control plane, with sudo for non-root users", () => {
    expect(certificateExpiryCommands(loadStackFile("prod"))).toEqual({
      "prod-cp1": "ssh ops@10.20.0.11 sudo kubeadm certs check-expiration",
      "prod-cp2": "ssh ops@10.20.0.12 sudo kubeadm certs check-expiration",
      "prod-cp3": "ssh ops@10.20.0.13 sudo kubeadm certs check-expiration",
    });
    expect(certificateExpiryCommands(loadStackFile("dev"))).toEqual({ "dev-cp1": "ssh root@192.168.56.11 kubeadm certs check-expiration" });
  });
});
