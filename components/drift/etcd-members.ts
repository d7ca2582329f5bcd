/**
 * EtcdMembers: a read-only view of the live etcd member list (etcdctl over SSH on a member),
 * compared with the members the stack config declares (cluster:hosts with the etcd role for
 * external etcd, the control planes for stacked etcd). A member that should not be there, or
 * one that is missing, is reported with the exact command that reconciles it; nothing is
 * changed on the cluster. Membership changes stay with the etcd and control-plane steps.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ClusterModel, HostModel } from "../config";
import { memberConfig } from "../etcd/member";
import { changedConnectionKeys, targetOf, type ConnectionProps, type DriftConnectionArgs, withoutUndefined } from "./common";
import { LoadedDynamicResource } from "./loaded-provider";
import { refreshOrKeep } from "./refresh";
import { sshRun } from "./ssh";

export interface ExpectedMember {
  name: string;
  peerUrl: string;
}

export interface LiveMember {
  /** Hex, as etcdctl's member remove takes it. */
  id: string;
  name: string;
  peerUrls: string[];
  learner: boolean;
}

export interface MemberDifference {
  name: string;
  peerUrl: string;
  id?: string;
  /** The command that reconciles it, to run on `on`. */
  reconcile: string;
  on: string;
}

export interface EtcdMembersInputs extends ConnectionProps {
  /** Bash that prints `etcdctl member list -w json` on this host. */
  listScript: string;
  /** etcdctl as an operator types it on this host (endpoints and certificates included). */
  etcdctl: string;
  expected: ExpectedMember[];
  /** In sync is what the program declares: previews show differences going to []. */
  unexpected: MemberDifference[];
  missing: MemberDifference[];
}

export interface EtcdMembersState extends EtcdMembersInputs {
  members: LiveMember[];
  /** etcdctl failed on a reachable host (no quorum, etcd down): its message. */
  listError?: string;
  unreachable?: string;
  /** Set by a refresh: only then are the findings above also the resource's inputs, which a preview shows. */
  refreshed?: boolean;
}

/** The properties the program declares (see EtcdMembers), plus what a refresh found wrong. */
const MEMBERS_INPUT_KEYS = ["host", "address", "port", "user", "hostKey", "sudo", "listScript", "etcdctl", "expected", "unexpected", "missing", "listError", "unreachable"];

/** etcdctl's JSON with the uint64 member ids kept exact (JSON.parse would round them). */
export function parseMemberList(json: string): LiveMember[] {
  const exact = json.replace(/"ID"\s*:\s*(\d+)/g, '"ID":"$1"');
  const parsed = JSON.parse(exact) as { members?: Array<{ ID: string; name?: string; peerURLs?: string[]; isLearner?: boolean }> };
  return (parsed.members ?? []).map((m) => ({
    id: BigInt(m.ID).toString(16),
    name: m.name ?? "",
    peerUrls: m.peerURLs ?? [],
    learner: m.isLearner ?? false,
  }));
}

/** Members are matched by peer URL (an unstarted member has no name yet). */
export function compareMembers(live: LiveMember[], expected: ExpectedMember[], etcdctl: string, on: string): { unexpected: MemberDifference[]; missing: MemberDifference[] } {
  const wanted = new Set(expected.map((e) => e.peerUrl));
  const present = new Set(live.flatMap((m) => m.peerUrls));
  return {
    unexpected: live
      .filter((m) => !m.peerUrls.some((u) => wanted.has(u)))
      .map((m) => ({ id: m.id, name: m.name, peerUrl: m.peerUrls.join(","), on, reconcile: `${etcdctl} member remove ${m.id}` })),
    missing: expected
      .filter((e) => !present.has(e.peerUrl))
      .map((e) => ({ name: e.name, peerUrl: e.peerUrl, on, reconcile: `${etcdctl} member add ${e.name} --peer-urls=${e.peerUrl}` })),
  };
}

async function look(inputs: EtcdMembersInputs): Promise<EtcdMembersState> {
  const result = await sshRun(targetOf(inputs), inputs.listScript);
  const base = {
    host: inputs.host,
    address: inputs.address,
    port: inputs.port,
    user: inputs.user,
    privateKey: inputs.privateKey,
    hostKey: inputs.hostKey,
    sudo: inputs.sudo,
    listScript: inputs.listScript,
    etcdctl: inputs.etcdctl,
    expected: inputs.expected,
  };
  if (result.code !== 0) {
    return { ...base, members: [], unexpected: [], missing: [], listError: (result.stderr || result.stdout).trim().slice(-500) || `exit ${result.code}` };
  }
  const members = parseMemberList(result.stdout);
  return { ...base, members, ...compareMembers(members, inputs.expected, inputs.etcdctl, inputs.host) };
}

export const etcdMembersProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: EtcdMembersState, news: EtcdMembersInputs) {
    const changed = [
      ...changedConnectionKeys(olds, news),
      ...(olds.host !== news.host || olds.listScript !== news.listScript || olds.etcdctl !== news.etcdctl ? ["source"] : []),
      ...(JSON.stringify(olds.expected) !== JSON.stringify(news.expected) ? ["expected"] : []),
    ];
    // What a refresh found is a change the preview names: the refresh stored it as the inputs, the
    // program declares none. What the look of a create or update found (a failed listing, say) is
    // only in the outputs: reporting it as a change would preview `~ update` naming nothing.
    if (olds.refreshed) {
      if ((olds.unexpected ?? []).length + (olds.missing ?? []).length > 0) changed.push("members");
      if (olds.listError) changed.push("listError");
      if (olds.unreachable) changed.push("unreachable");
    }
    // An update only looks again: the differences show in the preview, nothing is changed.
    return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs: EtcdMembersInputs) {
    return { id: `${inputs.host}:etcd-members`, outs: withoutUndefined(await look(inputs)) };
  },
  async read(id: string, props: EtcdMembersState) {
    const read = await refreshOrKeep(id, props, MEMBERS_INPUT_KEYS, () => look(props));
    return { ...read, props: { ...read.props, refreshed: true } };
  },
  async update(_id: string, _olds: EtcdMembersState, news: EtcdMembersInputs) {
    return { outs: withoutUndefined(await look(news)) };
  },
  async delete() {},
};

export interface EtcdMembersArgs {
  host: string;
  connection: DriftConnectionArgs;
  listScript: string;
  etcdctl: string;
  expected: ExpectedMember[];
}

/** The live etcd member list next to the declared one; see the module comment. */
export class EtcdMembers extends LoadedDynamicResource {
  declare readonly members: pulumi.Output<LiveMember[]>;
  declare readonly unexpected: pulumi.Output<MemberDifference[]>;
  declare readonly missing: pulumi.Output<MemberDifference[]>;

  constructor(name: string, args: EtcdMembersArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      host: args.host,
      ...args.connection,
      listScript: args.listScript,
      etcdctl: args.etcdctl,
      expected: args.expected,
      unexpected: [],
      missing: [],
      members: undefined,
      listError: undefined,
      unreachable: undefined,
    };
    super(__filename, "etcdMembersProvider", "EtcdMembers", name, props, { ...opts, additionalSecretOutputs: ["privateKey", ...(opts?.additionalSecretOutputs ?? [])] });
  }
}

/** Where the member list is read and what it must contain, for both etcd topologies. */
export function etcdMembersSource(model: ClusterModel): { via: HostModel; listScript: string; etcdctl: string; expected: ExpectedMember[] } | undefined {
  const timeouts = "--dial-timeout=3s --command-timeout=15s";
  if (model.etcd.topology === "external") {
    if (model.etcdMembers.length === 0) return undefined;
    const via = model.etcdMembers[0];
    const c = memberConfig(model, via);
    const endpoints = model.etcdMembers.map((m) => memberConfig(model, m).clientUrl).join(",");
    const etcdctl = `ETCDCTL_API=3 ${c.etcdctl} --endpoints=${endpoints} --cacert=${c.pkiDir}/ca.crt --cert=${c.pkiDir}/server.crt --key=${c.pkiDir}/server.key`;
    return {
      via,
      listScript: `${etcdctl} ${timeouts} member list -w json`,
      etcdctl,
      expected: model.etcdMembers.map((m) => ({ name: m.name, peerUrl: memberConfig(model, m).peerUrl })),
    };
  }
  // Stacked: kubeadm's etcd static pod on each control plane, peer port 2380, the pod's etcdctl.
  if (model.controlPlanes.length === 0) return undefined;
  const via = model.controlPlanes[0];
  const pki = "/etc/kubernetes/pki/etcd";
  const flags = `--endpoints=https://127.0.0.1:2379 --cacert=${pki}/ca.crt --cert=${pki}/healthcheck-client.crt --key=${pki}/healthcheck-client.key`;
  return {
    via,
    listScript: [
      `id=$(crictl ps -q --name '^etcd$' 2>/dev/null | head -n 1)`,
      `[ -n "$id" ] || { echo "no running etcd container on ${via.name}" >&2; exit 1; }`,
      `crictl exec "$id" etcdctl ${flags} ${timeouts} member list -w json`,
    ].join("\n"),
    etcdctl: `kubectl -n kube-system exec etcd-${via.name} -- etcdctl ${flags}`,
    expected: model.controlPlanes.map((h) => ({ name: h.name, peerUrl: `https://${h.internalAddress}:2380` })),
  };
}
