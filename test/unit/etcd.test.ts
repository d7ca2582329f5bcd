import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type { ClusterModel } from "../../components/config";
import { BACKUP_SCRIPT, BACKUP_TIMER } from "../../components/etcd/backup";
import { ETCD_UNIT } from "../../components/etcd/member";
import {
  etcdApiserverClientCertId,
  etcdBackupId,
  etcdCaId,
  etcdClientCertsId,
  etcdInstallId,
  etcdMemberCertsId,
  etcdMemberId,
  etcdReadyIds,
  externalEtcd,
  planEtcd,
} from "../../components/etcd/plan";
import { APISERVER_CLIENT_SECRET, memberBundleSecret, memberSans } from "../../components/etcd/pki";
import { osPrepId } from "../../components/host/plan";
import { kubePackagesId } from "../../components/kube-packages/plan";
import { planCluster, planEngine } from "../../components/plan";
import type { StepSpec } from "../../components/remote/step";
import { Cluster } from "../../components/cluster";
import { reveal, runUnderMocks } from "../../scripts/lib/mock-program";
import { haSection, model, problemsOf } from "./fixtures";
import { changedParts, clusterGraph, graphDiff } from "./mock-cluster";

/** The HA fixture with external etcd on `members` dedicated hosts. */
function externalSection(members = 3, etcd: Record<string, unknown> = {}): Record<string, any> {
  const s = haSection(1);
  s.etcd = { topology: "external", ...etcd };
  for (let i = 1; i <= members; i++) s.hosts.push({ name: `etcd${i}`, address: `10.0.0.${30 + i}`, roles: ["etcd"] });
  return s;
}
const external = (members = 3, etcd: Record<string, unknown> = {}) => model(externalSection(members, etcd));
const byId = (steps: StepSpec[]) => new Map(steps.map((s) => [s.id, s]));
const stepOf = (m: ClusterModel, id: string) => {
  const found = planEtcd(m).steps.find((s) => s.id === id);
  if (!found) throw new Error(`no step ${id}`);
  return found;
};

describe("etcd: stacked topology (the default)", () => {
  it("adds no steps: kubeadm runs etcd on the control planes", () => {
    const m = model(haSection(1));
    expect(m.etcd.topology).toBe("stacked");
    expect(planEtcd(m)).toEqual({ steps: [] });
    expect(externalEtcd(m)).toBeUndefined();
    expect(etcdReadyIds(m)).toEqual([]);
  });

  it("accepts 1, 3, 5 or 7 control planes and refuses even counts with the quorum arithmetic", () => {
    const withControlPlanes = (n: number) => {
      const s = haSection(0);
      s.hosts = s.hosts.filter((h: any) => !h.roles.includes("control-plane"));
      for (let i = 1; i <= n; i++) s.hosts.push({ name: `cp${i}`, address: `10.0.0.${10 + i}`, roles: ["control-plane"] });
      return s;
    };
    for (const n of [1, 3, 5, 7]) expect(() => model(withControlPlanes(n))).not.toThrow();
    for (const n of [2, 4, 6]) {
      const [problem] = problemsOf(withControlPlanes(n));
      expect(problem).toContain(`cluster:hosts: ${n} control planes with stacked etcd`);
      expect(problem).toContain("majority (n/2+1)");
      expect(problem).toContain(`${n} members tolerate ${n / 2 - 1} failure(s), no more than ${n - 1} would`);
      expect(problem).toContain("use 1, 3, 5 or 7");
    }
  });
});

describe("etcd: external topology, config rules", () => {
  it("needs 1, 3, 5 or 7 etcd hosts", () => {
    for (const n of [1, 3, 5, 7]) expect(external(n).etcdMembers).toHaveLength(n);
    expect(problemsOf(externalSection(4))).toEqual([
      "cluster:hosts: 4 hosts have the etcd role: etcd needs a majority (n/2+1) of its members to work, so 4 members tolerate 1 failure(s), no more than 3 would, while adding one more machine that can fail; use 1, 3, 5 or 7",
    ]);
    expect(problemsOf(externalSection(0))).toEqual(['cluster:etcd.topology: is "external" but no host has the etcd role']);
  });

  it("names the key of every bad etcd setting", () => {
    expect(problemsOf(externalSection(3, { version: "3.3.25" }))).toEqual([
      "cluster:etcd.version: 3.3.25 is older than 3.4.0: members join as learners, which etcd has since 3.4",
    ]);
    expect(problemsOf(externalSection(3, { certificateValidityDays: 4000 }))).toEqual([
      "cluster:etcd.certificateValidityDays: 4000 is longer than the CA's 3650 days",
    ]);
    expect(problemsOf(externalSection(3, { dataDir: "/var" }))).toEqual([
      "cluster:etcd.dataDir: /var is not a directory of its own (like /var/lib/etcd or /var/backups/etcd): the etcd delete steps remove it",
      "cluster:etcd.backup.dir: /var/backups/etcd overlaps cluster:etcd.dataDir /var: snapshots must survive a wiped member",
    ]);
    expect(problemsOf(externalSection(3, { backup: { dir: "/var/lib/etcd/backups" } }))).toEqual([
      "cluster:etcd.backup.dir: /var/lib/etcd/backups overlaps cluster:etcd.dataDir /var/lib/etcd: snapshots must survive a wiped member",
    ]);
    expect(problemsOf(externalSection(3, { backup: { schedule: "daily %H" } }))).toEqual([
      "cluster:etcd.backup.schedule: must be one systemd OnCalendar expression without '%' or line breaks",
    ]);
    expect(problemsOf(externalSection(3, { clientPort: 2380 }))).toEqual(["cluster:etcd.peerPort: must differ from cluster:etcd.clientPort"]);
    expect(problemsOf(externalSection(3, { source: "tarball" }))).toEqual(['cluster:etcd.source: must be one of "distro", "release"']);
    // The distro packages bring their own version: the release version is not checked then.
    expect(() => external(3, { source: "distro", version: "3.3.25" })).not.toThrow();
    // Backups off: their directory is not checked.
    expect(() => external(3, { backup: { enabled: false, dir: "/" } })).not.toThrow();
  });

  it("defaults the etcd version to the one the Kubernetes minor's kubeadm runs (DefaultEtcdVersion)", () => {
    const at = (version: string, etcd: Record<string, unknown> = {}) => {
      const s = externalSection(3, etcd);
      s.kubernetes.version = version;
      return s;
    };
    const expected: Array<[string, string]> = [["1.28.15", "3.5.24"], ["1.33.13", "3.5.24"], ["1.34.4", "3.6.5"], ["1.35.4", "3.6.6"], ["1.36.3", "3.6.8"], ["1.37.2", "3.7.0"]];
    for (const [kubernetes, etcd] of expected) {
      const m = model(at(kubernetes));
      expect(m.etcd.version, kubernetes).toBe(etcd);
      expect(stepOf(m, etcdInstallId("etcd1")).script).toContain(`file="etcd-v${etcd}-linux-$arch.tar.gz"`);
    }
    // A pin wins; one older than kubeadm's MinExternalEtcdVersion (3.5.24 from 1.33) is refused by name.
    expect(model(at("1.37.2", { version: "3.6.8" })).etcd.version).toBe("3.6.8");
    expect(problemsOf(at("1.37.2", { version: "3.5.16" }))).toEqual([
      "cluster:etcd.version: 3.5.16 is older than 3.5.24, the oldest external etcd kubeadm 1.37 accepts (its preflight stops kubeadm init): set 3.7.0 (what kubeadm 1.37 runs itself) or leave the key unset for that default",
    ]);
    expect(problemsOf(at("1.33.13", { version: "3.5.23" }))[0]).toContain("older than 3.5.24, the oldest external etcd kubeadm 1.33 accepts");
    // Before 1.33 the minimum is not checked here (those kubeadm sources were not at hand); distro packages bring their own.
    expect(() => model(at("1.32.11", { version: "3.5.16" }))).not.toThrow();
    expect(() => model(at("1.37.2", { source: "distro", version: "3.5.16" }))).not.toThrow();
  });

  it("checks the installed etcd on the host against kubeadm's minimum from 1.33 (a distribution's etcd is older)", () => {
    const check = (version: string, source: string) => {
      const s = externalSection(3, { source });
      s.kubernetes.version = version;
      return stepOf(model(s), etcdInstallId("etcd1")).script;
    };
    expect(check("1.37.2", "distro")).toContain(`printf '%s\\n' 3.5.24 "$version" | sort -V`);
    expect(check("1.37.2", "distro")).toContain("older than 3.5.24, the oldest external etcd kubeadm 1.37 accepts: set cluster:etcd.source to release");
    expect(check("1.37.2", "release")).toContain("older than 3.5.24, the oldest external etcd kubeadm 1.37 accepts: set cluster:etcd.version");
    expect(check("1.29.13", "distro")).toContain("older than 3.4.0, which members need (they join as learners): set cluster:etcd.source to release");
  });

  it("fills the defaults", () => {
    const e = external().etcd;
    // 1.29: the etcd kubeadm 1.29 - 1.33 run themselves.
    expect(e).toMatchObject({ source: "release", version: "3.5.24", dataDir: "/var/lib/etcd", clientPort: 2379, peerPort: 2380, certificateValidityDays: 1825, certificateGeneration: 0 });
    expect(e.backup).toEqual({ enabled: true, schedule: "*-*-* 02:00:00", retention: 7, dir: "/var/backups/etcd", keepOnDelete: true });
  });
});

describe("etcd: external topology, the plan", () => {
  it("installs in parallel, makes the PKI on the first member, chains the members one at a time", () => {
    const m = external(3);
    const { steps, outputSecrets = {} } = planEtcd(m);
    const ids = byId(steps);
    for (const name of ["etcd1", "etcd2", "etcd3"]) expect(ids.get(etcdInstallId(name))!.needs).toEqual([osPrepId(name)]);
    expect(ids.get(etcdCaId("etcd1"))!.needs).toEqual([etcdInstallId("etcd1")]);
    for (const name of ["etcd1", "etcd2", "etcd3"]) {
      const certs = ids.get(etcdMemberCertsId("etcd1", name))!;
      expect(certs.host).toBe("etcd1");
      expect(certs.needs).toEqual([etcdCaId("etcd1")]);
      expect(certs.output).toBe("secret");
      expect(outputSecrets[memberBundleSecret(m.etcdMembers.find((h) => h.name === name)!)]).toBe(certs.id);
    }
    expect(outputSecrets[APISERVER_CLIENT_SECRET]).toBe(etcdApiserverClientCertId("etcd1"));
    expect(ids.get(etcdMemberId("etcd1"))!.needs).toEqual([etcdInstallId("etcd1"), etcdMemberCertsId("etcd1", "etcd1")]);
    expect(ids.get(etcdMemberId("etcd2"))!.needs).toEqual([etcdInstallId("etcd2"), etcdMemberCertsId("etcd1", "etcd2"), etcdMemberId("etcd1")]);
    expect(ids.get(etcdMemberId("etcd3"))!.needs).toEqual([etcdInstallId("etcd3"), etcdMemberCertsId("etcd1", "etcd3"), etcdMemberId("etcd2")]);
    for (const name of ["etcd1", "etcd2", "etcd3"]) expect(ids.get(etcdBackupId(name))!.needs).toEqual([etcdMemberId(name)]);
    for (const cp of ["cp1", "cp2", "cp3"]) {
      const step = ids.get(etcdClientCertsId(cp))!;
      expect(step.needs).toEqual([osPrepId(cp), etcdApiserverClientCertId("etcd1")]);
      expect(step.secrets).toEqual([APISERVER_CLIENT_SECRET]);
    }
    expect(steps.every((s) => s.layer === "etcd")).toBe(true);
    // The whole plan with every layer is a valid DAG whose consumers need their producers.
    expect(() => planCluster(m)).not.toThrow();
  });

  it("installs after the Kubernetes packages on an etcd host that is also a node (one apt at a time)", () => {
    const s = externalSection(3);
    s.hosts.find((h: any) => h.name === "etcd1").roles = ["etcd", "worker"];
    expect(stepOf(model(s), etcdInstallId("etcd1")).needs).toEqual([kubePackagesId("etcd1")]);
  });

  it("tells kubeadm the endpoints and client certificate, and what to wait for", () => {
    const m = external(3, { clientPort: 12379 });
    expect(externalEtcd(m)).toEqual({
      endpoints: ["https://10.0.0.31:12379", "https://10.0.0.32:12379", "https://10.0.0.33:12379"],
      caFile: "/etc/kubernetes/pki/etcd/ca.crt",
      certFile: "/etc/kubernetes/pki/apiserver-etcd-client.crt",
      keyFile: "/etc/kubernetes/pki/apiserver-etcd-client.key",
    });
    expect(etcdReadyIds(m)).toEqual(["etcd1/etcd-member", "etcd2/etcd-member", "etcd3/etcd-member"]);
    const files = stepOf(m, etcdClientCertsId("cp2")).files;
    expect(files.map((f) => [f.path, f.mode, Boolean(f.secret)])).toEqual([
      ["/etc/kubernetes/pki/etcd/ca.crt", "0644", true],
      ["/etc/kubernetes/pki/apiserver-etcd-client.crt", "0644", true],
      ["/etc/kubernetes/pki/apiserver-etcd-client.key", "0600", true],
    ]);
  });

  it("puts every member's name and addresses, localhost and 127.0.0.1 in its certificates", () => {
    const s = externalSection(3);
    s.hosts.find((h: any) => h.name === "etcd2").address = "etcd2.example.internal";
    s.hosts.find((h: any) => h.name === "etcd2").internalAddress = "10.0.0.32";
    const m = model(s);
    expect(memberSans(m.etcdMembers[0])).toEqual(["DNS:etcd1", "DNS:localhost", "IP:10.0.0.31", "IP:127.0.0.1"]);
    expect(memberSans(m.etcdMembers[1])).toEqual(["DNS:etcd2", "DNS:localhost", "IP:10.0.0.32", "DNS:etcd2.example.internal", "IP:127.0.0.1"]);
    const certs = stepOf(m, etcdMemberCertsId("etcd1", "etcd2")).script;
    expect(certs).toContain("'/CN=etcd2' serverAuth,clientAuth 'DNS:etcd2,DNS:localhost,IP:10.0.0.32,DNS:etcd2.example.internal,IP:127.0.0.1'");
    const client = stepOf(m, etcdApiserverClientCertId("etcd1")).script;
    expect(client).toContain("'/O=system:masters/CN=kube-apiserver-etcd-client' clientAuth ''");
  });

  it("keeps private keys out of every script and file text; keys arrive on stdin into 0600 files", () => {
    const m = external(3);
    const { steps } = planCluster(m);
    for (const step of steps) {
      for (const text of [step.script, step.deleteScript ?? "", ...step.files.map((f) => f.content)]) {
        expect(text, step.id).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
      }
    }
    const member = stepOf(m, etcdMemberId("etcd2"));
    const bundle = memberBundleSecret(m.etcdMembers[1]);
    expect(member.secrets).toEqual([bundle]);
    expect(member.script).toContain(`kop_secret ${bundle}`);
    const keys = member.files.filter((f) => f.path.endsWith(".key"));
    expect(keys.map((f) => [f.path, f.mode, Boolean(f.secret)])).toEqual([
      ["/etc/etcd/pki/server.key", "0600", true],
      ["/etc/etcd/pki/peer.key", "0600", true],
    ]);
    expect(keys.every((f) => f.content === "")).toBe(true);
    // The CA key never leaves the first member: no step reads it into a bundle.
    for (const step of steps) expect(step.script, step.id).not.toMatch(/=\/etc\/etcd\/ca\/ca\.key/);
  });

  it("gives distinct, shell-safe secret names to member names that differ only in punctuation", () => {
    const s = haSection(1);
    s.etcd = { topology: "external" };
    s.hosts.push({ name: "a-b", address: "10.0.0.31", roles: ["etcd"] }, { name: "a.b", address: "10.0.0.32", roles: ["etcd"] }, { name: "ab", address: "10.0.0.33", roles: ["etcd"] });
    const names = model(s).etcdMembers.map(memberBundleSecret);
    expect(new Set(names).size).toBe(3);
    for (const n of names) expect(n).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
  });

  it("bootstraps from the first member only; the others can only join", () => {
    const m = external(3);
    const first = stepOf(m, etcdMemberId("etcd1")).script;
    expect(first).toContain("ETCD_INITIAL_CLUSTER=etcd1=https://10.0.0.31:2380\nETCD_INITIAL_CLUSTER_STATE=new");
    const second = stepOf(m, etcdMemberId("etcd2")).script;
    expect(second).not.toContain("ETCD_INITIAL_CLUSTER_STATE=new");
    expect(second).toContain("can only join a running cluster, which etcd1 starts");
    expect(second).toContain("ETCD_OTHER_CLIENT_URLS=('https://10.0.0.31:2379' 'https://10.0.0.33:2379')");
  });

  it("removes a member from its cluster before stopping it, and wipes data only when the member may go", () => {
    const del = stepOf(external(3), etcdMemberId("etcd2")).deleteScript!;
    const body = del.slice(del.indexOf("ETCD_NAME="));
    const order = ["decision=$(kop_etcd_leave)", "systemctl disable --now etcd.service", 'if [ "$decision" = wipe ]; then rm -rf "$ETCD_DATA_DIR"; fi'];
    const positions = order.map((line) => body.indexOf(line));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(del).toContain("member remove");
  });
});

describe("etcd: every option reaches the rendered text", () => {
  it("source: distro packages or a checksummed release tarball from the mirror", () => {
    const distro = stepOf(external(3, { source: "distro" }), etcdInstallId("etcd1"));
    expect(distro.script).toContain("kop_pkg_install 'etcd-server' 'etcd-client'");
    expect(distro.script).toContain("systemctl mask --runtime etcd.service");
    expect(distro.script).not.toContain("tar.gz");
    expect(stepOf(external(3, { source: "distro" }), etcdMemberId("etcd1")).files.find((f) => f.path === ETCD_UNIT)!.content).toContain("ExecStart=/usr/bin/etcd \\");

    const s = externalSection(3, { source: "release", version: "3.5.21" });
    s.mirrors = { releases: { etcd: "https://mirror.example.com/etcd/" } };
    const release = stepOf(model(s), etcdInstallId("etcd1")).script;
    expect(release).toContain("dir='https://mirror.example.com/etcd/v3.5.21'");
    expect(release).toContain('file="etcd-v3.5.21-linux-$arch.tar.gz"');
    expect(release).toContain('"$dir/SHA256SUMS"');
    expect(release).not.toContain("etcd-server");
    expect(stepOf(model(s), etcdMemberId("etcd1")).files.find((f) => f.path === ETCD_UNIT)!.content).toContain("ExecStart=/usr/local/bin/etcd \\");
  });

  it("ports and data directory", () => {
    const m = external(3, { clientPort: 12379, peerPort: 12380, dataDir: "/srv/etcd/data" });
    const unit = stepOf(m, etcdMemberId("etcd2")).files.find((f) => f.path === ETCD_UNIT)!.content;
    for (const flag of [
      "--listen-client-urls=https://10.0.0.32:12379",
      "--advertise-client-urls=https://10.0.0.32:12379",
      "--listen-peer-urls=https://10.0.0.32:12380",
      "--initial-advertise-peer-urls=https://10.0.0.32:12380",
      "--data-dir=/srv/etcd/data",
      "--client-cert-auth=true",
      "--peer-client-cert-auth=true",
      "--trusted-ca-file=/etc/etcd/pki/ca.crt",
      "--peer-trusted-ca-file=/etc/etcd/pki/ca.crt",
    ]) {
      expect(unit).toContain(`  ${flag}`);
    }
    expect(stepOf(m, etcdMemberId("etcd2")).deleteScript).toContain("ETCD_DATA_DIR='/srv/etcd/data'");
    expect(stepOf(m, etcdCaId("etcd1")).script).toContain("'10.0.0.31:12379' '10.0.0.32:12379' '10.0.0.33:12379'");
  });

  it("certificate validity and generation", () => {
    const m = external(3, { certificateValidityDays: 400, certificateGeneration: 2 });
    expect(stepOf(m, etcdMemberCertsId("etcd1", "etcd3")).script).toMatch(/kop_pki_issue \/etc\/etcd\/ca \/etc\/etcd\/ca\/issued\/etcd3\/server .* 400 2$/m);
    expect(stepOf(m, etcdApiserverClientCertId("etcd1")).script).toMatch(/clientAuth '' 400 2$/m);
  });

  it("backup: schedule, retention, directory, keep on delete, or none at all", () => {
    const m = external(3, { backup: { schedule: "*-*-* *:00/15:00", retention: 3, dir: "/srv/etcd-snapshots", keepOnDelete: false } });
    const step = stepOf(m, etcdBackupId("etcd2"));
    expect(step.files.find((f) => f.path === BACKUP_TIMER)!.content).toContain("OnCalendar=*-*-* *:00/15:00\n");
    const backup = step.files.find((f) => f.path === BACKUP_SCRIPT)!.content;
    expect(backup).toContain("dir='/srv/etcd-snapshots'");
    expect(backup).toContain("excess=$(($# - 3))");
    expect(backup).toContain("--endpoints=https://10.0.0.32:2379");
    expect(step.script).toContain("systemd-analyze calendar '*-*-* *:00/15:00'");
    expect(step.deleteScript).toContain("rm -f '/srv/etcd-snapshots'/etcd-etcd2-*.db");
    expect(stepOf(external(3), etcdBackupId("etcd2")).deleteScript).not.toContain("rm -f '/var/backups/etcd'");
    expect(planEtcd(external(3, { backup: { enabled: false } })).steps.filter((s) => s.id.endsWith("/etcd-backup"))).toEqual([]);
  });
});

describe("etcd: the Pulumi graph", () => {
  it("certificate bundles travel as secret step outputs into the members' stdin, never in a command", async () => {
    const bundle = "ca_crt=Q0E=\nserver_key=S0VZ\n";
    const m = external(3);
    const graph = await runUnderMocks(() => new Cluster(m.name, { model: m, sshPrivateKey: pulumi.secret("TEST PRIVATE KEY") }), {
      preview: false,
      // The certificate steps print a bundle, as on a host.
      outputs: (type, name) => (type === "command:remote:Command" ? { stdout: name.includes("/etcd-certs-") || name.endsWith("-client-cert") ? bundle : "", stderr: "" } : undefined),
    });
    const producer = graph.byName("etcd1/etcd-certs-etcd2");
    expect(producer.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    expect(producer.inputs.logging).toBe("none");
    const member = graph.byName("etcd2/etcd-member");
    // Its stdin: the step's scripts, then the bundle's secret line.
    expect(String(reveal(member.inputs.stdin)).endsWith(`${memberBundleSecret(external(3).etcdMembers[1])}=${Buffer.from(bundle.trim()).toString("base64")}\n`)).toBe(true);
    expect(member.inputs.logging).toBe("none");
    expect(graph.dependenciesOf("etcd2/etcd-member")).toEqual(expect.arrayContaining(["etcd1/etcd-certs-etcd2", "etcd1/etcd-member", "etcd2/etcd-install"]));
    expect(reveal(graph.byName("cp1/etcd-client-certs").inputs.stdin)).toContain(`${APISERVER_CLIENT_SECRET}=`);
    for (const r of graph.custom.filter((r) => r.type === "command:remote:Command")) {
      expect(JSON.stringify(r.inputs.create), r.name).not.toContain(Buffer.from(bundle.trim()).toString("base64"));
    }
  });

  it("adding two members adds their steps, re-runs the other members (they learn the new URLs) and nothing else", async () => {
    const before = await clusterGraph(external(3));
    const after = await clusterGraph(external(5));
    // Step resources only (the graph may also hold resources for the files steps place).
    const stepIds = new Set([...planEngine(external(3)).steps, ...planEngine(external(5)).steps].map((s) => s.id));
    const all = graphDiff(before, after);
    const diff = { added: all.added.filter((n) => stepIds.has(n)), removed: all.removed.filter((n) => stepIds.has(n)), changed: all.changed.filter((n) => stepIds.has(n)) };
    expect(diff.removed).toEqual([]);
    expect(diff.added).toEqual(
      [
        "etcd1/etcd-certs-etcd4",
        "etcd1/etcd-certs-etcd5",
        ...["etcd4", "etcd5"].flatMap((h) => [`${h}/etcd-backup`, `${h}/etcd-install`, `${h}/etcd-member`, `${h}/node-prep`]),
      ].sort(),
    );
    // The CA step's guard probes every member; existing certificates (and so their bundles) stay as they are.
    const etcdLayer = new Set(planEtcd(external(5)).steps.map((s) => s.id));
    // Outside this layer: /etc/hosts and the kubeadm config (which lists the endpoints) follow the membership; the rest stays.
    for (const prep of diff.changed.filter((n) => n.endsWith("/node-prep"))) {
      expect(changedParts(before, after, prep).every((k) => k === "hosts-file" || k === "kubeadm-config"), prep).toBe(true);
    }
    expect(diff.changed.filter((n) => !etcdLayer.has(n) && !/\/(node-prep|kubeadm-[a-z]+)$/.test(n))).toEqual([]);
    expect(diff.changed.filter((n) => etcdLayer.has(n))).toEqual(["etcd1/etcd-ca", "etcd1/etcd-member", "etcd2/etcd-member", "etcd3/etcd-member"]);
    expect(after.dependenciesOf("etcd4/etcd-member")).toContain("etcd3/etcd-member");
    expect(after.dependenciesOf("etcd5/etcd-member")).toContain("etcd4/etcd-member");
  });
});

describe("etcd member functions (member.sh) in bash", () => {
  it("skips a member whose client port refuses connections at once, instead of waiting for etcdctl's 15 s command timeout", async () => {
    const { execFileSync } = await import("node:child_process");
    const net = await import("node:net");
    const { MEMBER_FUNCTIONS } = await import("../../components/etcd/member");
    const server = net.createServer().listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const open = (server.address() as { port: number }).port;
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const port = (probe.address() as { port: number }).port;
        probe.close(() => resolve(port));
      });
    });
    try {
      // etcdctl must never be reached for the closed port: a fake that records its calls stands in.
      const script = `${MEMBER_FUNCTIONS}
ETCDCTL=fake_etcdctl ETCD_PKI=/nonexistent
fake_etcdctl() { echo "etcdctl $*" >&2; return 0; }
start=$SECONDS
kop_etcd_port_open https://127.0.0.1:${closed} && echo "closed:open" || echo "closed:refused"
kop_etcd_port_open https://127.0.0.1:${open}/ && echo "open:open" || echo "open:refused"
kop_etcd_healthy https://127.0.0.1:${closed} https://127.0.0.1:${open}
echo "seconds:$((SECONDS - start))"`;
      const out = execFileSync("bash", ["-c", script], { encoding: "utf8" }).trim().split("\n");
      // Well under etcdctl's 15 s timeout. Not "0": bash's SECONDS counts second boundaries
      // crossed, so a few milliseconds can read as 1 (seen on a loaded machine).
      expect(out.slice(0, 3)).toEqual(["closed:refused", "open:open", `https://127.0.0.1:${open}`]);
      expect(Number(out[3].replace("seconds:", ""))).toBeLessThanOrEqual(2);
    } finally {
      server.close();
    }
  });
});
