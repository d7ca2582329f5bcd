import * as fs from "node:fs";
import * as path from "node:path";
import type { ClusterModel, HostModel } from "../config";
import { putFile, script, shQuote, type RenderedFile } from "../remote/shell";
import { BUNDLE_FUNCTIONS, ETCD_PKI_DIR, memberBundleSecret, memberCertFiles, SECRETS_FROM_STDIN } from "./pki";

export const ETCD_UNIT = "/etc/systemd/system/etcd.service";
/** Initial-cluster settings: etcd reads them on its first start only (an existing data dir wins). */
export const ETCD_INITIAL_ENV = "/etc/etcd/initial-cluster.env";
/** ETCDCTL_* settings for operators on a member: `set -a; . /etc/etcd/etcdctl.env; set +a`. */
export const ETCDCTL_ENV = "/etc/etcd/etcdctl.env";

/** Shell functions of the member steps: join as a learner, promote, leave. */
export const MEMBER_FUNCTIONS = fs.readFileSync(path.join(__dirname, "member.sh"), "utf8").trim();

/** Everything a member's unit and scripts are rendered from. */
export interface EtcdMemberConfig {
  name: string;
  /** The etcd and etcdctl binaries (distro packages or the release tarball). */
  etcd: string;
  etcdctl: string;
  dataDir: string;
  /** https://<internal address>:<client port>, where clients and the other members reach it. */
  clientUrl: string;
  /** https://<internal address>:<peer port>. */
  peerUrl: string;
  clusterToken: string;
  pkiDir: string;
}

export function etcdBinaries(model: ClusterModel): { etcd: string; etcdctl: string } {
  const dir = model.etcd.source === "distro" ? "/usr/bin" : "/usr/local/bin";
  return { etcd: `${dir}/etcd`, etcdctl: `${dir}/etcdctl` };
}

export function memberConfig(model: ClusterModel, member: HostModel): EtcdMemberConfig {
  return {
    name: member.name,
    ...etcdBinaries(model),
    dataDir: model.etcd.dataDir,
    clientUrl: `https://${member.internalAddress}:${model.etcd.clientPort}`,
    peerUrl: `https://${member.internalAddress}:${model.etcd.peerPort}`,
    clusterToken: `${model.name}-etcd`,
    pkiDir: ETCD_PKI_DIR,
  };
}

/**
 * The member's systemd unit. Flags exist in etcd 3.4 and 3.5 alike. TLS with client
 * certificate authentication on both the client and the peer URLs: only holders of a
 * certificate from the etcd CA talk to etcd at all.
 */
export function renderEtcdUnit(c: EtcdMemberConfig): string {
  const flags = [
    `--name=${c.name}`,
    `--data-dir=${c.dataDir}`,
    `--listen-client-urls=${c.clientUrl}`,
    `--advertise-client-urls=${c.clientUrl}`,
    `--listen-peer-urls=${c.peerUrl}`,
    `--initial-advertise-peer-urls=${c.peerUrl}`,
    `--initial-cluster-token=${c.clusterToken}`,
    `--cert-file=${c.pkiDir}/server.crt`,
    `--key-file=${c.pkiDir}/server.key`,
    `--trusted-ca-file=${c.pkiDir}/ca.crt`,
    "--client-cert-auth=true",
    `--peer-cert-file=${c.pkiDir}/peer.crt`,
    `--peer-key-file=${c.pkiDir}/peer.key`,
    `--peer-trusted-ca-file=${c.pkiDir}/ca.crt`,
    "--peer-client-cert-auth=true",
    "--logger=zap",
  ];
  return [
    "# Managed by kubeadm-on-pulumi",
    "[Unit]",
    `Description=etcd member ${c.name}`,
    "Documentation=https://etcd.io/docs",
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=notify",
    "User=etcd",
    "Group=etcd",
    // Initial cluster and state: written once by the member step (bootstrap or join).
    `EnvironmentFile=-${ETCD_INITIAL_ENV}`,
    `ExecStart=${c.etcd} \\`,
    ...flags.map((f, i) => `  ${f}${i < flags.length - 1 ? " \\" : ""}`),
    "Restart=on-failure",
    "RestartSec=5s",
    "TimeoutStartSec=120s",
    "LimitNOFILE=65536",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** The initial-cluster settings of a member's first start: "new" for the bootstrap member, "existing" for a join. */
export function renderInitialClusterEnv(members: Array<{ name: string; peerUrl: string }>, state: "new" | "existing"): string {
  return `ETCD_INITIAL_CLUSTER=${members.map((m) => `${m.name}=${m.peerUrl}`).join(",")}\nETCD_INITIAL_CLUSTER_STATE=${state}\n`;
}

export function renderEtcdctlEnv(c: EtcdMemberConfig): string {
  return [
    "# Managed by kubeadm-on-pulumi: set -a; . /etc/etcd/etcdctl.env; set +a; etcdctl member list",
    "# (for other members set ETCDCTL_ENDPOINTS: etcdctl refuses --endpoints while it is in the environment)",
    "ETCDCTL_API=3",
    `ETCDCTL_ENDPOINTS=${c.clientUrl}`,
    `ETCDCTL_CACERT=${c.pkiDir}/ca.crt`,
    `ETCDCTL_CERT=${c.pkiDir}/server.crt`,
    `ETCDCTL_KEY=${c.pkiDir}/server.key`,
    "",
  ].join("\n");
}

/** The variables member.sh reads, for one member. */
export function memberVariables(model: ClusterModel, member: HostModel): string {
  const c = memberConfig(model, member);
  const others = model.etcdMembers.filter((m) => m !== member).map((m) => memberConfig(model, m).clientUrl);
  return [
    `ETCD_NAME=${shQuote(c.name)}`,
    `ETCD_PEER_URL=${shQuote(c.peerUrl)}`,
    `ETCD_CLIENT_URL=${shQuote(c.clientUrl)}`,
    `ETCD_DATA_DIR=${shQuote(c.dataDir)}`,
    `ETCD_PKI=${shQuote(c.pkiDir)}`,
    `ETCDCTL=${shQuote(c.etcdctl)}`,
    `ETCD_INITIAL_ENV=${shQuote(ETCD_INITIAL_ENV)}`,
    `ETCD_OTHER_CLIENT_URLS=(${others.map(shQuote).join(" ")})`,
  ].join("\n");
}

export function memberFiles(model: ClusterModel, member: HostModel): RenderedFile[] {
  const c = memberConfig(model, member);
  return [
    ...Object.values(memberCertFiles()),
    { path: ETCD_UNIT, mode: "0644", content: renderEtcdUnit(c) },
    { path: ETCDCTL_ENV, mode: "0644", content: renderEtcdctlEnv(c) },
  ];
}

/**
 * A member's step: certificates, unit, then the member itself. The first member of the
 * stack config bootstraps a one-member cluster; every other member (and any member whose
 * data is gone) joins the running cluster as a learner and is promoted once it has caught
 * up. Steps are chained, so membership changes one at a time.
 */
export function renderMemberStep(model: ClusterModel, member: HostModel): { script: string; deleteScript: string; files: RenderedFile[] } {
  const c = memberConfig(model, member);
  const bootstrap = model.etcdMembers[0] === member;
  const files = memberFiles(model, member);
  const bundle = memberBundleSecret(member);
  const onChange = (f: RenderedFile) => (f.path === ETCD_UNIT ? "reload=1; restart=1" : f.path === ETCDCTL_ENV ? ":" : "restart=1");
  const firstStart = bootstrap
    ? putFile({ path: ETCD_INITIAL_ENV, mode: "0644", content: renderInitialClusterEnv([{ name: c.name, peerUrl: c.peerUrl }], "new") })
    : `kop_fail "no other etcd member answers (\${ETCD_OTHER_CLIENT_URLS[*]}): ${c.name} can only join a running cluster, which ${model.etcdMembers[0].name} starts"`;
  const body = [
    BUNDLE_FUNCTIONS,
    MEMBER_FUNCTIONS,
    memberVariables(model, member),
    'getent passwd etcd >/dev/null || kop_fail "there is no etcd user: the etcd-install step makes it"',
    "reload=0",
    "restart=0",
    "install -d -m 0755 /etc/etcd",
    `install -d -m 0750 -o root -g etcd ${c.pkiDir}`,
    SECRETS_FROM_STDIN,
    "{",
    `kop_bundle_unpack "$SECRET_${bundle}" etcd`,
    ...files.filter((f) => f.secret).map((f) => putFile(f, onChange(f))),
    "}",
    ...files.filter((f) => !f.secret).map((f) => putFile(f, onChange(f))),
    `chown etcd:etcd ${c.pkiDir}/server.key ${c.pkiDir}/peer.key`,
    'install -d -m 0700 -o etcd -g etcd "$ETCD_DATA_DIR"',
    'if [ "$reload" = 1 ]; then systemctl daemon-reload; fi',
    "# An interrupted package install may have left the packaged unit masked.",
    "systemctl unmask --runtime etcd.service >/dev/null 2>&1 || true",
    'if [ ! -d "$ETCD_DATA_DIR/member" ]; then',
    "  restart=1",
    '  if via=$(kop_etcd_healthy "${ETCD_OTHER_CLIENT_URLS[@]}"); then',
    '    kop_etcd_join "$via"',
    "  else",
    firstStart,
    "  fi",
    "fi",
    "systemctl enable etcd.service >/dev/null 2>&1",
    'if [ "$restart" = 1 ] || ! kop_unit_active etcd.service; then',
    '  systemctl restart etcd.service || kop_fail "etcd did not start on $ETCD_NAME: $(journalctl -u etcd.service -n 30 --no-pager 2>&1)"',
    "fi",
    "# A member that joined as a learner votes once it has caught up. Learners answer no member",
    "# list (etcd 3.4), so a voting member is asked; a lone first member has none and is no learner.",
    'if via=$(kop_etcd_healthy "${ETCD_OTHER_CLIENT_URLS[@]}"); then',
    '  entry=$(kop_etcd_entry "$(kop_etcd_members "$via")")',
    '  [ -n "$entry" ] || kop_fail "the etcd cluster of $via does not list $ETCD_NAME ($ETCD_PEER_URL)"',
    '  if [ "${entry##*,}" = true ]; then kop_etcd_promote; fi',
    "fi",
    'for _ in $(seq 1 30); do if kop_etcdctl --endpoints="$ETCD_CLIENT_URL" endpoint health >/dev/null 2>&1; then break; fi; sleep 2; done',
    'kop_etcdctl --endpoints="$ETCD_CLIENT_URL" endpoint health >&2 || kop_fail "etcd on $ETCD_NAME does not commit reads: its cluster has no quorum"',
    'if ! health=$(kop_etcdctl --endpoints="$ETCD_CLIENT_URL" endpoint health --cluster 2>&1); then',
    '  kop_log "WARNING: not every etcd member is healthy: $(printf \'%s\\n\' "$health" | grep -v \'"level"\')"',
    "fi",
  ];
  const deleteBody = [
    MEMBER_FUNCTIONS,
    memberVariables(model, member),
    "decision=$(kop_etcd_leave)",
    "systemctl disable --now etcd.service >/dev/null 2>&1 || true",
    'if [ "$decision" = wipe ]; then rm -rf "$ETCD_DATA_DIR"; fi',
    ...[...files.map((f) => f.path), ETCD_INITIAL_ENV].map((p) => `kop_restore ${shQuote(p)}`),
    `rmdir ${c.pkiDir} /etc/etcd 2>/dev/null || true`,
    "systemctl daemon-reload",
    "systemctl reset-failed etcd.service >/dev/null 2>&1 || true",
  ];
  return {
    script: script(`etcd member ${c.name}`, body.join("\n"), [bundle]),
    deleteScript: script(`take etcd member ${c.name} out of its cluster and remove it`, deleteBody.join("\n")),
    files,
  };
}
