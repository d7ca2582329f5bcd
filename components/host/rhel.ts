import type { ClusterModel, HostModel } from "../config";
import type { SupportedOs } from "./package-manager";

/**
 * The preflight's OS check: ID and VERSION_ID from /etc/os-release (already sourced) against the
 * supported systems of cluster:os.family. RHEL-family VERSION_IDs carry the point release ("9.5"),
 * so their major version is matched. A host of the other family (ID or ID_LIKE) gets told which
 * family setting it needs.
 */
export function osFamilyCheck(model: ClusterModel, host: HostModel, supported: SupportedOs[]): string {
  const family = model.os.family;
  const mine = supported.filter((os) => (os.family === "dnf") === (family === "rhel"));
  const patterns = mine.flatMap((os) => os.versions.flatMap((v) => (os.family === "dnf" ? [`${os.id}:${v}`, `${os.id}:${v}.*`] : [`${os.id}:${v}`])));
  const labels = mine.map((os) => os.label).join(", ");
  const command = family === "rhel" ? "dnf" : "apt-get";
  return [
    `case "\${ID:-}:\${VERSION_ID:-}" in`,
    `  ${patterns.join(" | ")}) ;;`,
    "  *)",
    '    case " ${ID:-} ${ID_LIKE:-} " in',
    '      *" rhel "* | *" fedora "* | *" centos "*) other=rhel ;;',
    '      *" debian "* | *" ubuntu "*) other=debian ;;',
    '      *) other="" ;;',
    "    esac",
    `    if [ -n "$other" ] && [ "$other" != ${family} ]; then kop_fail "${host.name} runs \${PRETTY_NAME:-an unknown system}, a $other-family system, but cluster:os.family is ${family}: set it to $other (all hosts share one family)"; fi`,
    `    kop_fail "unsupported OS on ${host.name}: \${PRETTY_NAME:-unknown} (supported with cluster:os.family ${family}: ${labels})"`,
    "    ;;",
    "esac",
    `command -v ${command} >/dev/null || kop_fail '${command} not found on ${host.name}: cluster:os.family ${family} installs packages with it'`,
  ].join("\n");
}

/**
 * What os-prep installs on the RHEL family: the Debian list under RHEL's names (conntrack-tools,
 * iproute, iptables-nft), tc and tar (minimal installs lack them) and the versionlock plugin that
 * holds the Kubernetes packages. No ebtables: EL9 and EL10 ship none, and kubeadm's preflight only warns.
 */
export function rhelPackages(): string[] {
  return ["chrony", "iproute", "iproute-tc", "ca-certificates", "curl", "conntrack-tools", "socat", "ethtool", "iptables-nft", "tar", "python3-dnf-plugin-versionlock"];
}

const CHRONY_CONF = "/etc/chrony.conf";
/** The directory of CHRONY_SOURCES_FILE (components/host/prep.ts, which imports this file). */
const SOURCEDIR = "sourcedir /etc/chrony/sources.d";

/** RHEL's chrony.conf reads no sources directory of ours: add the line (the host's file kept for the delete). */
export function chronyIncludeSources(): string {
  return [
    `if [ -f ${CHRONY_CONF} ] && ! grep -qxF '${SOURCEDIR}' ${CHRONY_CONF}; then`,
    `  if { cat ${CHRONY_CONF}; printf '%s\\n' '# Added by kubeadm-on-pulumi (cluster:os.timeServers)' '${SOURCEDIR}'; } | kop_put ${CHRONY_CONF} 0644; then systemctl restart chronyd 2>/dev/null || true; fi`,
    "fi",
  ].join("\n");
}

/** The host's chrony.conf back; RHEL's chrony has no /etc/chrony, so the directories of our sources file go too. */
export function chronyIncludeRestore(): string {
  return `if [ -e ${CHRONY_CONF}.kop-orig ]; then kop_restore ${CHRONY_CONF}; fi\nrmdir /etc/chrony/sources.d /etc/chrony 2>/dev/null || true`;
}
