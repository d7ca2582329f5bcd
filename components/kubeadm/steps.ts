import * as fs from "node:fs";
import * as path from "node:path";
import type { ClusterModel, HostModel } from "../config";
import { putFile, script, shQuote, type RenderedFile } from "../remote/shell";
import {
  BOOTSTRAP_TOKEN_GROUP,
  controlPlaneEndpoint,
  convergeDigest,
  initSecretsBlock,
  renderControlPlaneConfig,
  renderJoinConfig,
  type ExternalEtcd,
  type JoinSecret,
} from "./config";

/**
 * Script renderers of the kubeadm node lifecycle. The scripts whose delete undoes a node (init,
 * control-plane joins, admit, node) depend only on the node's identity and the endpoint: version,
 * mirror and configuration changes reach the hosts through the config files and the upgrade
 * steps, so they never re-run a step whose delete resets or drains a node. A worker's join also
 * carries its upgrade (components/workers/join.ts) and re-runs in place on a version change; no
 * script change ever replaces a step (remote-step.ts), so its delete does not run then.
 */

const KUBEADM_SH = fs.readFileSync(path.join(__dirname, "kubeadm.sh"), "utf8");
const SECTION_ORDER = ["state", "core", "secrets", "images", "join", "labels", "removal", "upgrade", "teardown"] as const;
export type KubeadmSection = (typeof SECTION_ORDER)[number];
const SECTIONS = new Map(
  KUBEADM_SH.split(/^# @section /m)
    .slice(1)
    .map((part) => [part.slice(0, part.indexOf("\n")), part.slice(part.indexOf("\n") + 1).trim()] as const),
);
for (const name of SECTION_ORDER) if (!SECTIONS.has(name)) throw new Error(`kubeadm.sh has no section ${name}`);

/** The kubeadm.sh sections a script uses, in the file's order (so definitions precede uses). */
export function kubeadmFunctions(...sections: KubeadmSection[]): string {
  return SECTION_ORDER.filter((name) => sections.includes(name))
    .map((name) => SECTIONS.get(name)!)
    .join("\n\n");
}

export const KUBEADM_DIR = "/etc/kubernetes/kubeadm";
export const CONTROL_PLANE_CONFIG = `${KUBEADM_DIR}/kubeadm.yaml`;
export const JOIN_CONFIG = `${KUBEADM_DIR}/join.yaml`;
/** What the node's configuration converges to (see convergeDigest); init and join record it as applied. */
export const CONVERGE_DIGEST = `${KUBEADM_DIR}/converge.digest`;
export const ADMIN_CONF = "/etc/kubernetes/admin.conf";

/** The mark a node's init or join leaves when it finished. */
export const JOIN_DONE = "$KOP_STATE/kubeadm-join.done";

/** shellcheck cannot see variables set with printf -v (kop_secret). */
const SECRETS_FROM_STDIN = "# shellcheck disable=SC2154 # SECRET_* are set from stdin by kop_secret";

export type NodeRole = "first-control-plane" | "control-plane" | "worker";

export function nodeRole(model: ClusterModel, host: HostModel): NodeRole {
  if (host.name === model.controlPlanes[0].name) return "first-control-plane";
  return host.isControlPlane ? "control-plane" : "worker";
}

/** Files a node's kubeadm-config step places: no secrets in any of them. */
export function kubeadmConfigFiles(model: ClusterModel, host: HostModel, external: ExternalEtcd | undefined): RenderedFile[] {
  const role = nodeRole(model, host);
  const files: RenderedFile[] = [];
  if (host.isControlPlane) files.push({ path: CONTROL_PLANE_CONFIG, mode: "0600", content: renderControlPlaneConfig(model, host, external) });
  if (role !== "first-control-plane") files.push({ path: JOIN_CONFIG, mode: "0600", content: renderJoinConfig(model, host) });
  files.push({ path: CONVERGE_DIGEST, mode: "0600", content: convergeDigest(model, role, external) + "\n" });
  return files;
}

/**
 * Places the kubeadm configuration. The node's teardown (join/init delete) removes it too; this
 * delete covers a node that never joined (the files are put back or removed, idempotently).
 */
export function renderConfigStep(model: ClusterModel, host: HostModel, external: ExternalEtcd | undefined): { script: string; deleteScript: string; files: RenderedFile[] } {
  const files = kubeadmConfigFiles(model, host, external);
  const body = [`mkdir -p ${KUBEADM_DIR}`, `chmod 0700 ${KUBEADM_DIR}`, ...files.map((f) => putFile(f))];
  const undo = [...files.map((f) => `kop_restore ${f.path}`), `rmdir ${KUBEADM_DIR} 2>/dev/null || true`];
  return {
    script: script(`kubeadm configuration on ${host.name}`, body.join("\n")),
    deleteScript: script(`remove the kubeadm configuration from ${host.name}`, undo.join("\n")),
    files,
  };
}

/** The node's teardown (after the "state" and "teardown" sections): kubeadm reset and everything it leaves, plus the config files. */
export function teardownLines(model: ClusterModel, host: HostModel): string[] {
  const etcdDir = host.isControlPlane && model.etcd.topology === "stacked" ? model.etcd.dataDir : "";
  return [
    `kop_teardown ${shQuote(model.runtime.criSocket)} ${shQuote(etcdDir)}`,
    ...localPathTeardown(model),
    ...[CONTROL_PLANE_CONFIG, JOIN_CONFIG, CONVERGE_DIGEST].map((f) => `kop_restore ${f}`),
  ];
}

/**
 * The local-path provisioner makes its base directory on a node when it first puts a volume
 * there and removes only the volumes: the base goes with the node when empty. Volumes still in
 * it are the user's data, which a teardown keeps.
 */
function localPathTeardown(model: ClusterModel): string[] {
  if (model.addons.storage.provisioner !== "local-path") return [];
  const dir = shQuote(model.addons.storage.localPath.path);
  return [`if [ -d ${dir} ] && ! rmdir ${dir} 2>/dev/null; then kop_log "keeping "${dir}": it still holds local-path volumes"; fi`];
}

function teardown(model: ClusterModel, host: HostModel, description: string): string {
  return script(description, [kubeadmFunctions("state", "teardown"), ...teardownLines(model, host)].join("\n"));
}

const INIT_SECRETS = "KOP_INIT_SECRETS";

/** Bash that sets $config to the control-plane configuration with the secrets inserted (never on disk). */
function initConfigWithSecrets(): string {
  return [
    `${INIT_SECRETS}=$(cat <<'KOP_BLOCK'\n${initSecretsBlock()}KOP_BLOCK\n)`,
    `config=$(kop_insert_after_kind InitConfiguration "$${INIT_SECRETS}" <${CONTROL_PLANE_CONFIG} | kop_fill_secrets bootstrap_token certificate_key)`,
  ].join("\n");
}

/**
 * kubeadm init on the first control plane: images first (a registry problem fails fast and
 * clearly), then init with the bootstrap token and certificate key on a pipe. A run that finds
 * a half-done init (an earlier failure) resumes it without the preflight checks.
 */
export function renderInitStep(model: ClusterModel, host: HostModel): { script: string; deleteScript: string } {
  const done = "$KOP_STATE/kubeadm-init.done";
  const body = [
    kubeadmFunctions("state", "core", "secrets", "images"),
    `if [ -f "${done}" ]; then kop_log "the cluster is initialized"; exit 0; fi`,
    initConfigWithSecrets(),
    `kop_pull_images ${CONTROL_PLANE_CONFIG}`,
    `flags=(--config /dev/stdin --upload-certs --skip-token-print --skip-certificate-key-print)`,
    `if [ -e /etc/kubernetes/manifests/kube-apiserver.yaml ]; then`,
    `  kop_log "resuming an init that did not finish"`,
    `  flags+=(--skip-phases=preflight)`,
    `fi`,
    `printf '%s\\n' "$config" | kubeadm init "\${flags[@]}" || kop_fail "kubeadm init failed (its output is above); run pulumi up again to resume, or see docs/lifecycle.md"`,
    `kop_wait_for_api 300`,
    `mkdir -p "$KOP_STATE" && cp ${CONVERGE_DIGEST} "$KOP_STATE/kubeadm-config.applied"`,
    `touch "${done}"`,
  ];
  return {
    script: script(`kubeadm init on ${host.name}`, body.join("\n"), ["bootstrap_token", "certificate_key"]),
    deleteScript: teardown(model, host, `reset ${host.name} (the first control plane) and clean it for a fresh cluster`),
  };
}

/** The discovery hash of the cluster CA ("sha256:<hex>" of its public key), for the joins. */
export function renderCaHashStep(host: HostModel): string {
  const body = [
    "[ -r /etc/kubernetes/pki/ca.crt ] || kop_fail 'no cluster CA at /etc/kubernetes/pki/ca.crt: kubeadm init has not run here'",
    "hash=$(openssl x509 -pubkey -noout -in /etc/kubernetes/pki/ca.crt | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)",
    "printf 'sha256:%s\\n' \"$hash\"",
  ];
  return script(`discovery hash of the cluster CA on ${host.name}`, body.join("\n"));
}

/**
 * The admin kubeconfig for the stack output, with the server set to the control-plane endpoint.
 * It is printed only when this step runs (first create, endpoint change, or a bump of
 * cluster:lifecycle.kubeconfigGeneration), so the output and the provider built from it stay put.
 */
export function renderKubeconfigStep(model: ClusterModel, host: HostModel): string {
  const server = `https://${controlPlaneEndpoint(model)}`;
  const body = [
    `# cluster:lifecycle.kubeconfigGeneration ${model.lifecycle.kubeconfigGeneration}`,
    `[ -s ${ADMIN_CONF} ] || kop_fail "no ${ADMIN_CONF}: kubeadm init has not run here"`,
    `sed -E 's#^([[:space:]]*server:).*#\\1 ${server}#' ${ADMIN_CONF}`,
  ];
  return script(`admin kubeconfig of ${model.name} (server ${server})`, body.join("\n"));
}

export const UPGRADER = "kubeadm-on-pulumi-node-upgrader";

/** ConfigMaps that serve as the workers' upgrade slots (see kop_slot_acquire). */
export function upgradeSlotNames(model: ClusterModel): string[] {
  return Array.from({ length: model.lifecycle.upgradeBatchSize }, (_, i) => `kubeadm-on-pulumi-upgrade-slot-${i}`);
}

function upgraderManifests(model: ClusterModel): string {
  const slots = upgradeSlotNames(model)
    .map((n) => `"${n}"`)
    .join(", ");
  return `apiVersion: v1
kind: ServiceAccount
metadata: {name: ${UPGRADER}, namespace: kube-system}
---
apiVersion: v1
kind: Secret
type: kubernetes.io/service-account-token
metadata:
  name: ${UPGRADER}-token
  namespace: kube-system
  annotations: {kubernetes.io/service-account.name: ${UPGRADER}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "kubeadm-on-pulumi:node-upgrader"}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [get, list, patch, update, delete]}
- {apiGroups: [""], resources: [pods], verbs: [get, list, delete]}
- {apiGroups: [""], resources: [pods/eviction], verbs: [create]}
- {apiGroups: [apps], resources: [daemonsets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "kubeadm-on-pulumi:node-upgrader"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "kubeadm-on-pulumi:node-upgrader"}
subjects: [{kind: ServiceAccount, name: ${UPGRADER}, namespace: kube-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: "kubeadm-on-pulumi:upgrade-slots", namespace: kube-system}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [create]}
- {apiGroups: [""], resources: [configmaps], resourceNames: [${slots}], verbs: [get, delete]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: "kubeadm-on-pulumi:upgrade-slots", namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: "kubeadm-on-pulumi:upgrade-slots"}
subjects: [{kind: ServiceAccount, name: ${UPGRADER}, namespace: kube-system}]
`;
}

/**
 * The credential workers use to drain and uncordon themselves during upgrades, and to delete
 * their drained Node object after their reset (they have no admin credentials): a service account
 * allowed to cordon, evict, delete nodes and take an upgrade slot, printed as a kubeconfig (secret
 * output). The token Secret is created once, so re-runs print the same text.
 */
export function renderUpgraderStep(model: ClusterModel, host: HostModel): string {
  const server = `https://${controlPlaneEndpoint(model)}`;
  const body = [
    kubeadmFunctions("core"),
    "kop_wait_for_api 300",
    `kop_kubectl apply --server-side --force-conflicts --field-manager=kubeadm-on-pulumi -f - >/dev/null <<'KOP_MANIFESTS'\n${upgraderManifests(model)}KOP_MANIFESTS`,
    "token=",
    `for _ in $(seq 1 60); do token=$(kop_kubectl -n kube-system get secret ${UPGRADER}-token -o jsonpath='{.data.token}' | base64 -d); [ -n "$token" ] && break; sleep 2; done`,
    `[ -n "$token" ] || kop_fail "the token of service account ${UPGRADER} was not issued (is kube-controller-manager running?)"`,
    "ca=$(base64 -w0 /etc/kubernetes/pki/ca.crt)",
    `cat <<KOP_KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: ${model.name}
  cluster: {server: "${server}", certificate-authority-data: "$ca"}
users:
- name: ${UPGRADER}
  user: {token: "$token"}
contexts:
- name: ${UPGRADER}@${model.name}
  context: {cluster: ${model.name}, user: ${UPGRADER}}
current-context: ${UPGRADER}@${model.name}
KOP_KUBECONFIG`,
  ];
  return script(`upgrade credential for the workers of ${model.name} on ${host.name}`, body.join("\n"));
}

/** Secrets a joining node's scripts read. */
export function joinSecrets(host: HostModel): JoinSecret[] {
  return host.isControlPlane ? ["bootstrap_token", "certificate_key", "ca_cert_hash"] : ["bootstrap_token", "ca_cert_hash"];
}

/**
 * Applies the bootstrap token from stdin as a Secret valid for 24 more hours (extending it never
 * breaks a join in progress). Needs the "core" section and bootstrap_token read from stdin.
 */
function bootstrapTokenLines(): string[] {
  return [
    "kop_wait_for_api 300",
    SECRETS_FROM_STDIN,
    'token_id=${SECRET_bootstrap_token%%.*} token_secret=${SECRET_bootstrap_token#*.}',
    '[[ $token_id =~ ^[a-z0-9]{6}$ && $token_secret =~ ^[a-z0-9]{16}$ ]] || kop_fail "the bootstrap token is not in kubeadm\'s format"',
    'b64() { printf \'%s\' "$1" | base64 -w0; }',
    "expires=$(date -u -d '+24 hours' +%Y-%m-%dT%H:%M:%SZ)",
    `kop_kubectl apply --server-side --force-conflicts --field-manager=kubeadm-on-pulumi -f - >/dev/null <<KOP_TOKEN
apiVersion: v1
kind: Secret
type: bootstrap.kubernetes.io/token
metadata:
  name: bootstrap-token-$token_id
  namespace: kube-system
data:
  description: $(b64 "kubeadm-on-pulumi join token")
  token-id: $(b64 "$token_id")
  token-secret: $(b64 "$token_secret")
  expiration: $(b64 "$expires")
  usage-bootstrap-authentication: $(b64 true)
  usage-bootstrap-signing: $(b64 true)
  auth-extra-groups: $(b64 "${BOOTSTRAP_TOKEN_GROUP}")
KOP_TOKEN`,
    `kop_log "bootstrap token $token_id is valid until $expires"`,
  ];
}

/**
 * Makes sure a control plane can join now, however long after init: the bootstrap token is
 * valid for 24 more hours, the stored ClusterConfiguration is current and the certificates are
 * uploaded under the configured key (kubeadm deletes them after 2 hours). Runs on the first
 * control plane; owned by the joining control plane, so adding one adds only its own steps
 * (workers share renderWorkerAdmissionStep). Its delete (after the node's reset) removes the
 * Node object of a drained node.
 */
export function renderAdmitStep(model: ClusterModel, node: HostModel, first: HostModel): { script: string; deleteScript: string } {
  const body = [
    kubeadmFunctions("core", "secrets"),
    ...bootstrapTokenLines(),
    "# The joining control plane reads the ClusterConfiguration from the cluster: make it current (certSANs).",
    `kubeadm init phase upload-config kubeadm --config ${CONTROL_PLANE_CONFIG}`,
    initConfigWithSecrets(),
    `printf '%s\\n' "$config" | kubeadm init phase upload-certs --upload-certs --skip-certificate-key-print --config /dev/stdin`,
  ];
  // Only a drained node goes: the drain (the node step's delete) runs before this one.
  const deleteBody = [kubeadmFunctions("core"), ...nodeObjectRemovalLines(node)];
  return {
    script: script(`admit ${node.name} to the cluster (on ${first.name})`, body.join("\n"), ["bootstrap_token", "certificate_key"]),
    deleteScript: script(`delete the Node object of ${node.name} (on ${first.name})`, deleteBody.join("\n")),
  };
}

/**
 * One step on the first control plane for all workers: the bootstrap token is valid for 24 more
 * hours. Its script names the workers, so adding (or removing) workers re-runs it right before
 * the new ones join, however long after init. Nothing to undo: the token expires by itself.
 */
export function renderWorkerAdmissionStep(model: ClusterModel, first: HostModel): string {
  const body = [`# workers: ${model.workers.map((w) => w.name).join(" ")}`, kubeadmFunctions("core"), ...bootstrapTokenLines()];
  return script(`a valid bootstrap token for the workers of ${model.name} (on ${first.name})`, body.join("\n"), ["bootstrap_token"]);
}

/**
 * kubeadm join with the secrets on a pipe. A node whose kubelet is newer than the control plane
 * (added while an upgrade runs) waits for the control planes first. A join that failed half-way
 * is reset and retried (for external etcd, the etcd client certificates are kept).
 */
export function renderJoinStep(model: ClusterModel, host: HostModel): { script: string; deleteScript: string } {
  const body = [
    kubeadmFunctions("state", "core", "secrets", "join", ...(host.isControlPlane ? (["images"] as const) : [])),
    `if [ -f "${JOIN_DONE}" ]; then kop_log "${host.name} has joined"; exit 0; fi`,
    ...joinCommands(model, host),
  ];
  return {
    script: script(`kubeadm join ${host.name}${host.isControlPlane ? " as a control plane" : ""}`, body.join("\n"), joinSecrets(host)),
    deleteScript: teardown(model, host, `reset ${host.name} and clean it for a fresh join`),
  };
}

/** The join itself (sections "state", "core", "secrets", "join", and "images" for a control plane), ending with the join's done mark. */
export function joinCommands(model: ClusterModel, host: HostModel): string[] {
  const keep = model.etcd.topology === "external" && host.isControlPlane ? ["/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/apiserver-etcd-client.crt", "/etc/kubernetes/pki/apiserver-etcd-client.key"] : [];
  return [
    `kop_wait_for_control_plane_version ${shQuote(controlPlaneEndpoint(model))}`,
    `if [ -e /etc/kubernetes/kubelet.conf ] || [ -e /etc/kubernetes/manifests/kube-apiserver.yaml ]; then`,
    `  kop_log "an earlier join did not finish: resetting ${host.name} before joining again"`,
    `  kop_reset_keeping ${shQuote(model.runtime.criSocket)}${keep.map((f) => " " + f).join("")}`,
    "fi",
    host.isControlPlane ? `kop_pull_images ${CONTROL_PLANE_CONFIG}` : "",
    `config=$(kop_fill_secrets ${joinSecrets(host).join(" ")} <${JOIN_CONFIG})`,
    `printf '%s\\n' "$config" | kubeadm join --config /dev/stdin || kop_fail "kubeadm join failed (its output is above); run pulumi up again to retry"`,
    `mkdir -p "$KOP_STATE" && cp ${CONVERGE_DIGEST} "$KOP_STATE/kubeadm-config.applied"`,
    `touch "${JOIN_DONE}"`,
  ].filter(Boolean);
}

/**
 * Deletes the Node object of a node that was drained for removal (a schedulable node was not
 * drained, so it stays). Needs the "core" section; runs wherever kubectl has credentials.
 */
export function nodeObjectRemovalLines(node: HostModel): string[] {
  return [
    `node=${shQuote(node.name)}`,
    'if ! kop_kubectl get node "$node" >/dev/null 2>&1; then kop_log "node $node is not registered"; exit 0; fi',
    `if [ "$(kop_kubectl get node "$node" -o jsonpath='{.spec.unschedulable}')" != true ]; then`,
    '  kop_log "node $node is schedulable, so it was not drained for removal: its Node object stays"',
    "  exit 0",
    "fi",
    'kop_kubectl delete node "$node" --ignore-not-found',
  ];
}

/**
 * Exists for its delete, which runs on the first control plane when the node leaves (scale down
 * or destroy) and before the node is reset: drain (cluster:lifecycle.drainTimeoutSeconds), and
 * for a stacked-etcd control plane, remove its etcd member. Its create waits for the Node object.
 */
export function renderNodeStep(model: ClusterModel, node: HostModel, first: HostModel): { script: string; deleteScript: string } {
  const deleteBody = [kubeadmFunctions("core", "removal"), `kop_drain_for_removal ${shQuote(node.name)} ${model.lifecycle.drainTimeoutSeconds}`];
  if (node.isControlPlane && model.etcd.topology === "stacked") deleteBody.push(`kop_etcd_member_remove ${shQuote(node.name)}`);
  return {
    script: script(`node ${node.name} registered, with its labels and taints (on ${first.name})`, [kubeadmFunctions("core", "labels"), ...labelLines(node)].join("\n")),
    deleteScript: script(
      `drain ${node.name}${node.isControlPlane && model.etcd.topology === "stacked" ? " and remove its etcd member" : ""} before it is reset (on ${first.name})`,
      deleteBody.join("\n"),
    ),
  };
}

/** Waits for the Node object, then sets cluster:hosts[].labels/taints; ones we set earlier and no longer listed go. */
function labelLines(node: HostModel): string[] {
  const labels = Object.entries(node.labels).map(([k, v]) => shQuote(`${k}=${v}`));
  const taints = node.taints.map((t) => shQuote(`${t.key}${t.value === undefined ? "" : `=${t.value}`}:${t.effect}`));
  return [
    `kop_wait_for_node ${shQuote(node.name)} 600`,
    `kop_node_labels ${shQuote(node.name)}${labels.map((l) => " " + l).join("")}`,
    `kop_node_taints ${shQuote(node.name)}${taints.map((t) => " " + t).join("")}`,
  ];
}

/** The first control plane's labels and taints (it has no node step: nothing drains it). */
export function renderLabelsStep(node: HostModel, first: HostModel): string {
  return script(`labels and taints of ${node.name} (on ${first.name})`, [kubeadmFunctions("core", "labels"), ...labelLines(node)].join("\n"));
}
