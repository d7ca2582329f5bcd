import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "../../components/cluster";
import { compareMembers, etcdMembersProvider, etcdMembersSource, parseMemberList, type EtcdMembersInputs, type EtcdMembersState } from "../../components/drift/etcd-members";
import { closeSshPool } from "../../components/drift/ssh";
import { ETCD_MEMBERS_NAME } from "../../components/drift/wiring";
import { runUnderMocks } from "../../scripts/lib/mock-program";
import { startFakeHost, type FakeHost } from "./drift-fake-host";
import { haSection, model } from "./fixtures";

// etcdctl 3.5 `member list -w json`: ids are uint64, beyond what a JS number holds exactly.
const LIVE = `{"header":{"cluster_id":17237436991929493444,"member_id":9372538179322589801,"raft_term":2},"members":[
{"ID":9372538179322589801,"name":"etcd1","peerURLs":["https://10.0.0.31:2380"],"clientURLs":["https://10.0.0.31:2379"]},
{"ID":10501334649042878790,"name":"etcd2","peerURLs":["https://10.0.0.32:2380"],"clientURLs":["https://10.0.0.32:2379"]},
{"ID":18249187646912138824,"name":"old-etcd","peerURLs":["https://10.0.0.39:2380"],"clientURLs":["https://10.0.0.39:2379"],"isLearner":true}]}`;

function externalModel() {
  const section = haSection(1);
  section.etcd = { topology: "external" };
  section.hosts.push(
    { name: "etcd1", address: "10.0.0.31", roles: ["etcd"] },
    { name: "etcd2", address: "10.0.0.32", roles: ["etcd"] },
    { name: "etcd3", address: "10.0.0.33", roles: ["etcd"] },
  );
  return model(section);
}

describe("etcd member facts", () => {
  it("keeps etcd's uint64 member ids exact, in the hex etcdctl takes", () => {
    const members = parseMemberList(LIVE);
    expect(members.map((m) => m.id)).toEqual(["8211f1d0f64f3269", "91bc3c398fb3c146", "fd422379fda50e48"]);
    expect(members[2]).toMatchObject({ name: "old-etcd", learner: true });
  });

  it("reports a member that should not be there and one that is missing, with the commands that reconcile them", () => {
    const m = externalModel();
    const source = etcdMembersSource(m)!;
    expect(source.via.name).toBe("etcd1");
    const { unexpected, missing } = compareMembers(parseMemberList(LIVE), source.expected, source.etcdctl, "etcd1");
    const etcdctl =
      "ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=https://10.0.0.31:2379,https://10.0.0.32:2379,https://10.0.0.33:2379 --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/server.crt --key=/etc/etcd/pki/server.key";
    expect(unexpected).toEqual([{ id: "fd422379fda50e48", name: "old-etcd", peerUrl: "https://10.0.0.39:2380", on: "etcd1", reconcile: `${etcdctl} member remove fd422379fda50e48` }]);
    expect(missing).toEqual([{ name: "etcd3", peerUrl: "https://10.0.0.33:2380", on: "etcd1", reconcile: `${etcdctl} member add etcd3 --peer-urls=https://10.0.0.33:2380` }]);
  });

  it("reads stacked etcd through kubeadm's etcd pod on the first control plane", () => {
    const source = etcdMembersSource(model(haSection(1)))!;
    expect(source.via.name).toBe("cp1");
    expect(source.expected.map((e) => e.peerUrl)).toEqual(["https://10.0.0.11:2380", "https://10.0.0.12:2380", "https://10.0.0.13:2380"]);
    expect(source.listScript).toContain("crictl exec");
    expect(source.etcdctl).toMatch(/^kubectl -n kube-system exec etcd-cp1 -- etcdctl --endpoints=https:\/\/127\.0\.0\.1:2379 /);
  });

  describe("against a host", () => {
    let host: FakeHost;
    beforeAll(async () => {
      host = await startFakeHost();
    });
    afterAll(async () => {
      await closeSshPool();
      await host.close();
    });
    const inputs = (listScript: string): EtcdMembersInputs => {
      const source = etcdMembersSource(externalModel())!;
      return { host: "etcd1", address: host.address, port: host.port, user: "root", privateKey: host.privateKey, hostKey: host.hostKey, sudo: false, listScript, etcdctl: source.etcdctl, expected: source.expected, unexpected: [], missing: [] };
    };
    const provider = etcdMembersProvider as Required<typeof etcdMembersProvider>;

    it("lists the members on refresh; a difference makes the next up show it, and changes nothing", async () => {
      const created = await provider.create(inputs(`cat <<'EOF'\n${LIVE}\nEOF`));
      const state = (await provider.read(created.id, created.outs)).props as EtcdMembersState;
      expect(state.members).toHaveLength(3);
      expect(state.unexpected.map((u) => u.id)).toEqual(["fd422379fda50e48"]);
      expect(state.missing.map((u) => u.name)).toEqual(["etcd3"]);
      expect(await provider.diff(created.id, state, inputs(`cat <<'EOF'\n${LIVE}\nEOF`))).toMatchObject({ changes: true, replaces: [] });
    });

    it("reports etcdctl's failure instead of failing the refresh", async () => {
      const created = await provider.create(inputs(`echo 'context deadline exceeded' >&2; exit 1`));
      expect(created.outs).toMatchObject({ members: [], listError: "context deadline exceeded" });
    });

    it("a listing that failed during up is no change (a preview would name nothing); after a refresh it is, named listError", async () => {
      const failing = inputs(`echo 'context deadline exceeded' >&2; exit 1`);
      const created = await provider.create(failing);
      expect(await provider.diff(created.id, created.outs, failing)).toMatchObject({ changes: false });
      const refreshed = await provider.read(created.id, created.outs);
      // The refresh stores the failure as an input too: that is what a preview shows going away.
      expect(refreshed.inputs).toMatchObject({ listError: "context deadline exceeded" });
      expect(await provider.diff(created.id, refreshed.props, failing)).toMatchObject({ changes: true });
      const updated = await provider.update(created.id, refreshed.props, failing);
      expect(await provider.diff(created.id, updated.outs, failing)).toMatchObject({ changes: false });
    });
  });

  it("is declared after the etcd steps (external) or the control-plane steps (stacked)", async () => {
    const m = externalModel();
    const graph = await runUnderMocks(() => new Cluster(m.name, { model: m, sshPrivateKey: pulumi.secret("k"), driftDetection: true }));
    const facts = graph.byName(ETCD_MEMBERS_NAME);
    expect(facts.inputs).toMatchObject({ host: "etcd1", unexpected: [], missing: [] });
    expect(graph.dependenciesOf(ETCD_MEMBERS_NAME)).toEqual(expect.arrayContaining(["etcd1/etcd-member", "etcd2/etcd-member", "etcd3/etcd-member"]));
    expect((graph.byName("etcd2/node-prep/files").inputs.units as Array<{ unit: string }>).map((u) => u.unit)).toContain("etcd.service");

    const stacked = model(haSection(1));
    const stackedGraph = await runUnderMocks(() => new Cluster(stacked.name, { model: stacked, sshPrivateKey: pulumi.secret("k"), driftDetection: true }));
    expect(stackedGraph.byName(ETCD_MEMBERS_NAME).inputs).toMatchObject({ host: "cp1" });
    const controlPlaneSteps = stackedGraph.custom.filter((r) => r.type === "command:remote:Command" && stackedGraph.byUrn.get(r.parent)?.type === "kop:cluster:ControlPlane");
    expect(controlPlaneSteps.length).toBeGreaterThan(0);
    expect(stackedGraph.dependenciesOf(ETCD_MEMBERS_NAME)).toEqual(expect.arrayContaining(controlPlaneSteps.map((r) => r.name)));
  });
});
