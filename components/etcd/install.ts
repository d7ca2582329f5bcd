import type { ClusterModel, HostModel } from "../config";
import { KUBEADM_MIN_EXTERNAL_ETCD } from "../config/etcd";
import { MIN_ETCD_VERSION } from "../config/validate";
import { APT_FUNCTIONS, packageManagerFor, packageManagerOf } from "../host/package-manager";
import { STATE_DIR } from "../host/prep";
import { script, shQuote } from "../remote/shell";
import { etcdBinaries } from "./member";

export const DISTRO_PACKAGES = ["etcd-server", "etcd-client"];
const RELEASE_BINARIES = ["etcd", "etcdctl", "etcdutl"];
const USER_MARKER = `${STATE_DIR}/etcd-user-created`;
const PACKAGE_RECORD = "etcd";

/** Release tarball location, upstream layout: <base>/v<version>/etcd-v<version>-linux-<arch>.tar.gz (+ SHA256SUMS). */
export function releaseUrl(model: ClusterModel): { dir: string; file: (arch: string) => string } {
  const version = model.etcd.version;
  return {
    dir: `${model.mirrors.releases.etcd.replace(/\/$/, "")}/v${version}`,
    file: (arch) => `etcd-v${version}-linux-${arch}.tar.gz`,
  };
}

/**
 * Fails unless `etcd --version` reports at least MIN_ETCD_VERSION (members join as learners) and,
 * from Kubernetes 1.33, kubeadm's MinExternalEtcdVersion, which its preflight enforces: a distribution's
 * etcd older than that is stopped here, with the key to change, rather than at kubeadm init.
 */
function versionCheck(model: ClusterModel, etcd: string, hint: string): string {
  const kubeadm = model.kubernetes.minor >= KUBEADM_MIN_EXTERNAL_ETCD.fromMinor;
  const minimum = kubeadm ? KUBEADM_MIN_EXTERNAL_ETCD.version : MIN_ETCD_VERSION;
  const why = kubeadm ? `the oldest external etcd kubeadm 1.${model.kubernetes.minor} accepts` : "which members need (they join as learners)";
  return [
    `version=$(${etcd} --version 2>/dev/null | sed -n 's/^etcd Version: //p')`,
    `[ -n "$version" ] || kop_fail "${etcd} does not run"`,
    `if [ "$(printf '%s\\n' ${minimum} "$version" | sort -V | head -n1)" != ${minimum} ]; then`,
    `  kop_fail "etcd $version is older than ${minimum}, ${why}: ${hint}"`,
    "fi",
    'kop_log "etcd $version"',
  ].join("\n");
}

function distroInstall(model: ClusterModel): { body: string; deleteBody: string } {
  // apt only: the RHEL family ships no etcd package (the config refuses "distro" there).
  const pm = packageManagerFor("apt");
  const dataDir = shQuote(model.etcd.dataDir);
  return {
    body: [
      APT_FUNCTIONS,
      "if ! kop_pkg_installed etcd-server; then",
      "  # The package starts a default single-node etcd on install: keep it masked until this member's unit exists.",
      "  systemctl mask --runtime etcd.service >/dev/null 2>&1 || true",
      `  ${pm.install(DISTRO_PACKAGES, PACKAGE_RECORD)}`,
      "  systemctl unmask --runtime etcd.service >/dev/null 2>&1 || true",
      "fi",
      pm.install(DISTRO_PACKAGES, PACKAGE_RECORD),
      versionCheck(model, etcdBinaries(model).etcd, "set cluster:etcd.source to release"),
    ].join("\n"),
    deleteBody: [
      APT_FUNCTIONS,
      "systemctl disable --now etcd.service >/dev/null 2>&1 || true",
      `if [ -d ${dataDir}/member ]; then`,
      // Purging the package deletes /var/lib/etcd: never while it holds data the member's delete kept.
      `  kop_log "WARNING: ${model.etcd.dataDir} holds etcd data that was kept: removing the packages without purging them"`,
      `  apt-get -o DPkg::Lock::Timeout=300 remove -y -q ${DISTRO_PACKAGES.join(" ")}`,
      "else",
      `  ${pm.purgeRecorded(PACKAGE_RECORD)}`,
      "fi",
    ].join("\n"),
  };
}

function releaseInstall(model: ClusterModel): { body: string; deleteBody: string } {
  const { dir } = releaseUrl(model);
  const version = model.etcd.version;
  const binaries = RELEASE_BINARIES.map((b) => `/usr/local/bin/${b}`);
  return {
    body: [
      packageManagerOf(model).functions,
      `have=$(/usr/local/bin/etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p' || true)`,
      `if [ "$have" != ${shQuote(version)} ]; then`,
      "  arch=$(kop_arch)",
      `  dir=${shQuote(dir)}`,
      `  file="etcd-v${version}-linux-$arch.tar.gz"`,
      "  tmp=$(mktemp -d)",
      '  kop_fetch "$dir/$file" >"$tmp/$file" || kop_fail "cannot download $dir/$file (set cluster:mirrors.releases.etcd to a mirror of the etcd releases)"',
      '  kop_fetch "$dir/SHA256SUMS" >"$tmp/SHA256SUMS" || kop_fail "cannot download $dir/SHA256SUMS: a mirror must carry the release checksums too"',
      '  (cd "$tmp" && grep " $file\\$" SHA256SUMS | sha256sum -c --status -) || kop_fail "$file does not match its SHA256SUMS entry"',
      '  tar -xzf "$tmp/$file" -C "$tmp"',
      `  for binary in ${RELEASE_BINARIES.join(" ")}; do`,
      `    if [ -f "$tmp/etcd-v${version}-linux-$arch/$binary" ]; then install -m 0755 "$tmp/etcd-v${version}-linux-$arch/$binary" "/usr/local/bin/$binary"; fi`,
      "  done",
      '  rm -rf "$tmp"',
      "fi",
      versionCheck(model, "/usr/local/bin/etcd", "set cluster:etcd.version"),
      "if ! getent passwd etcd >/dev/null; then",
      `  useradd --system --user-group --home-dir ${shQuote(model.etcd.dataDir)} --no-create-home --shell /usr/sbin/nologin etcd`,
      `  mkdir -p ${STATE_DIR} && touch ${USER_MARKER}`,
      "fi",
    ].join("\n"),
    deleteBody: [
      "systemctl disable --now etcd.service >/dev/null 2>&1 || true",
      `rm -f ${binaries.join(" ")}`,
      `if [ -e ${USER_MARKER} ]; then userdel etcd 2>/dev/null || true; rm -f ${USER_MARKER}; fi`,
    ].join("\n"),
  };
}

/** etcd and etcdctl on a member: the distro packages or a checksummed release tarball, plus the etcd user. */
export function renderInstallStep(model: ClusterModel, member: HostModel): { script: string; deleteScript: string } {
  const what = model.etcd.source === "distro" ? `the distribution's ${DISTRO_PACKAGES.join(" and ")}` : `etcd ${model.etcd.version}`;
  const { body, deleteBody } = model.etcd.source === "distro" ? distroInstall(model) : releaseInstall(model);
  return {
    script: script(`install ${what} on ${member.name}`, body),
    deleteScript: script(`remove ${what} from ${member.name}`, deleteBody),
  };
}
