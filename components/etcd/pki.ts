import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ClusterModel, HostModel } from "../config";
import { ETCD_CA_VALIDITY_DAYS } from "../config/validate";
import { isIPv4 } from "../config/net";
import { packageManagerOf } from "../host/package-manager";
import { putFile, script, shQuote, type RenderedFile } from "../remote/shell";

/**
 * The etcd PKI is made with openssl on the first member, which keeps the CA key
 * (ETCD_CA_DIR) and every certificate it issued, so each run prints the same bundles.
 * A bundle ("NAME=base64" lines) is a certificate step's secret stdout; the member and
 * control-plane steps read it on stdin and unpack it into secret files.
 */
export const ETCD_CA_DIR = "/etc/etcd/ca";
/** A member's own certificates. */
export const ETCD_PKI_DIR = "/etc/etcd/pki";
/** Where kubeadm expects the API server's etcd client certificate (its default file names). */
export const KUBEADM_ETCD_CLIENT = {
  caFile: "/etc/kubernetes/pki/etcd/ca.crt",
  certFile: "/etc/kubernetes/pki/apiserver-etcd-client.crt",
  keyFile: "/etc/kubernetes/pki/apiserver-etcd-client.key",
} as const;

/** Shell functions of the PKI steps (openssl) and of their consumers (bundle unpacking). */
export const PKI_FUNCTIONS = fs.readFileSync(path.join(__dirname, "pki.sh"), "utf8").trim();
export const BUNDLE_FUNCTIONS = fs.readFileSync(path.join(__dirname, "bundle.sh"), "utf8").trim();

/** shellcheck cannot see variables set with printf -v: the next command group reads them. */
export const SECRETS_FROM_STDIN = "# shellcheck disable=SC2154 # SECRET_* are set from stdin by kop_secret and kop_bundle_unpack";

const SERVER_AND_CLIENT = "serverAuth,clientAuth";
const RENEW_NOTE = "certificates with less than 30 days left are re-issued on the next run";

/** Secret carrying a member's CA certificate, server and peer certificates and keys. */
export function memberBundleSecret(member: HostModel): string {
  const readable = member.name.replace(/[^a-z0-9]/g, "_");
  // Names like "a-b" and "a.b" read the same once made shell-safe; the hash keeps them apart.
  return `etcd_certs_${readable}_${createHash("sha256").update(member.name).digest("hex").slice(0, 8)}`;
}
/** Secret carrying the CA certificate and the API server's etcd client certificate and key. */
export const APISERVER_CLIENT_SECRET = "etcd_apiserver_client";

/** Subject alternative names of a member's server and peer certificates, in openssl syntax. */
export function memberSans(member: HostModel): string[] {
  const sans = [`DNS:${member.name}`, "DNS:localhost"];
  for (const address of [member.internalAddress, member.address]) {
    const entry = isIPv4(address) ? `IP:${address}` : `DNS:${address}`;
    if (!sans.includes(entry)) sans.push(entry);
  }
  if (!sans.includes("IP:127.0.0.1")) sans.push("IP:127.0.0.1");
  return sans;
}

/** The files of a member bundle, by bundle key. */
export function memberCertFiles(): Record<"ca_crt" | "server_crt" | "server_key" | "peer_crt" | "peer_key", RenderedFile> {
  const file = (name: string, key: string, secret: boolean): RenderedFile => ({
    path: `${ETCD_PKI_DIR}/${name}`,
    mode: secret ? "0600" : "0644",
    content: "",
    secret: { name: `etcd_${key}` },
  });
  return {
    ca_crt: file("ca.crt", "ca_crt", false),
    server_crt: file("server.crt", "server_crt", false),
    server_key: file("server.key", "server_key", true),
    peer_crt: file("peer.crt", "peer_crt", false),
    peer_key: file("peer.key", "peer_key", true),
  };
}

/** The files of the API server's client bundle on a control plane. */
export function apiserverClientFiles(): Record<"ca_crt" | "client_crt" | "client_key", RenderedFile> {
  return {
    ca_crt: { path: KUBEADM_ETCD_CLIENT.caFile, mode: "0644", content: "", secret: { name: "etcdclient_ca_crt" } },
    client_crt: { path: KUBEADM_ETCD_CLIENT.certFile, mode: "0644", content: "", secret: { name: "etcdclient_client_crt" } },
    client_key: { path: KUBEADM_ETCD_CLIENT.keyFile, mode: "0600", content: "", secret: { name: "etcdclient_client_key" } },
  };
}

const issuedDir = (name: string) => `${ETCD_CA_DIR}/issued/${name}`;

/** The CA, once, on the first member. Refuses to make a second CA while members of another one answer. */
export function renderCaStep(model: ClusterModel): { script: string; deleteScript: string } {
  const first = model.etcdMembers[0];
  const pm = packageManagerOf(model);
  const probes = model.etcdMembers.map((m) => `${m.internalAddress}:${model.etcd.clientPort}`);
  const body = [
    pm.functions,
    PKI_FUNCTIONS,
    `{ ${pm.install(["openssl"], "etcd-ca")}; } >&2`,
    `if [ ! -s ${ETCD_CA_DIR}/ca.key ]; then`,
    `  for probe in ${probes.map(shQuote).join(" ")}; do`,
    `    if timeout 3 bash -c "exec 3<>/dev/tcp/\${probe%:*}/\${probe##*:}" 2>/dev/null; then`,
    `      kop_fail "etcd answers on $probe but ${first.name} has no etcd CA: the CA lives on the host that was the first etcd member; copy its ${ETCD_CA_DIR} here first (docs/etcd.md)"`,
    `    fi`,
    `  done`,
    `fi`,
    `kop_pki_ca ${ETCD_CA_DIR} ${shQuote(`${model.name}-etcd-ca`)} ${ETCD_CA_VALIDITY_DAYS}`,
  ];
  return {
    script: script(`the etcd CA of ${model.name} on ${first.name}`, body.join("\n")),
    deleteScript: script(
      `remove the etcd CA from ${first.name}`,
      [pm.functions, `rm -rf ${ETCD_CA_DIR}`, "rmdir /etc/etcd 2>/dev/null || true", pm.purgeRecorded("etcd-ca")].join("\n"),
    ),
  };
}

/** Server and peer certificates of one member, issued on the first member; stdout is the member's bundle. */
export function renderMemberCertsStep(model: ClusterModel, member: HostModel): { script: string; deleteScript: string } {
  const dir = issuedDir(member.name);
  const sans = memberSans(member).join(",");
  const { certificateValidityDays: days, certificateGeneration: generation } = model.etcd;
  const issue = (kind: string) =>
    `kop_pki_issue ${ETCD_CA_DIR} ${dir}/${kind} ${shQuote(`/CN=${member.name}`)} ${SERVER_AND_CLIENT} ${shQuote(sans)} ${days} ${generation}`;
  const body = [
    PKI_FUNCTIONS,
    `# ${RENEW_NOTE}`,
    issue("server"),
    issue("peer"),
    `kop_pki_bundle ca_crt=${ETCD_CA_DIR}/ca.crt server_crt=${dir}/server.crt server_key=${dir}/server.key peer_crt=${dir}/peer.crt peer_key=${dir}/peer.key`,
  ];
  return {
    script: script(`etcd server and peer certificates of ${member.name}`, body.join("\n")),
    deleteScript: script(`forget the etcd certificates of ${member.name}`, `rm -rf ${dir}`),
  };
}

/** The API server's etcd client certificate (CN kube-apiserver-etcd-client, O system:masters, as kubeadm makes it). */
export function renderApiserverClientCertStep(model: ClusterModel): { script: string; deleteScript: string } {
  const out = `${ETCD_CA_DIR}/issued/apiserver-etcd-client`;
  const { certificateValidityDays: days, certificateGeneration: generation } = model.etcd;
  const body = [
    PKI_FUNCTIONS,
    `# ${RENEW_NOTE}`,
    `kop_pki_issue ${ETCD_CA_DIR} ${out} '/O=system:masters/CN=kube-apiserver-etcd-client' clientAuth '' ${days} ${generation}`,
    `kop_pki_bundle ca_crt=${ETCD_CA_DIR}/ca.crt client_crt=${out}.crt client_key=${out}.key`,
  ];
  return {
    script: script("the API server's etcd client certificate", body.join("\n")),
    deleteScript: script("forget the API server's etcd client certificate", `rm -f ${out}.crt ${out}.key ${out}.spec`),
  };
}

/** A control plane's copy of the API server's etcd client certificate, where kubeadm looks for it. */
export function renderClientCertsStep(host: HostModel): { script: string; deleteScript: string; files: RenderedFile[] } {
  const files = Object.values(apiserverClientFiles());
  const body = [BUNDLE_FUNCTIONS, SECRETS_FROM_STDIN, "{", `kop_bundle_unpack "$SECRET_${APISERVER_CLIENT_SECRET}" etcdclient`, ...files.map((f) => putFile(f)), "}"];
  const deleteBody = [...files.map((f) => `kop_restore ${shQuote(f.path)}`), "rmdir /etc/kubernetes/pki/etcd /etc/kubernetes/pki /etc/kubernetes 2>/dev/null || true"];
  return {
    script: script(`the API server's etcd client certificate on ${host.name}`, body.join("\n"), [APISERVER_CLIENT_SECRET]),
    deleteScript: script(`remove the API server's etcd client certificate from ${host.name}`, deleteBody.join("\n")),
    files,
  };
}
