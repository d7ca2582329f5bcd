import * as fs from "node:fs";
import * as path from "node:path";
import type { ClusterModel } from "../config";
import { libraryText, shQuote } from "../remote/shell";

/** A signed package repository, in the format of the family that reads it. */
export type Repository =
  /** apt: key fetched from keyUrl, a one-line source scoped to that key only. */
  | { format: "deb"; name: string; url: string; suite: string; components: string[]; keyUrl: string }
  /** dnf: a .repo file; baseUrl may hold dnf's own variables ($releasever, $basearch). */
  | { format: "rpm"; name: string; baseUrl: string; keyUrl: string };

/**
 * The package-manager family of a host, as bash snippets. Scripts stay family-neutral by calling
 * these and the kop_pkg_* functions that `functions` defines (apt.sh, dnf.sh).
 */
export interface PackageManager {
  family: "apt" | "dnf";
  /** The shell functions the snippets rely on; a script carries them before the first snippet. */
  functions: string;
  /**
   * Installs packages; "name=version" pins exactly. Already-installed packages are left alone.
   * With `record`, the packages this call adds are remembered under that name for purgeRecorded.
   */
  install(packages: string[], record?: string): string;
  /** Removes exactly what install(..., record) added, with dependencies nothing else needs. */
  purgeRecorded(record: string): string;
  hold(packages: string[]): string;
  unhold(packages: string[]): string;
  addRepository(repo: Repository): string;
  removeRepository(name: string): string;
}

export interface SupportedOs {
  id: string;
  versions: string[];
  family: PackageManager["family"];
  label: string;
}

export const SUPPORTED_OS: SupportedOs[] = [
  { id: "debian", versions: ["12", "13"], family: "apt", label: "Debian 12/13" },
  { id: "ubuntu", versions: ["22.04", "24.04", "26.04"], family: "apt", label: "Ubuntu 22.04/24.04/26.04" },
  // VERSION_ID is "9.5" or "10.0" on these: the major version is matched (see the preflight).
  { id: "rocky", versions: ["9", "10"], family: "dnf", label: "Rocky Linux 9/10" },
  { id: "almalinux", versions: ["9", "10"], family: "dnf", label: "AlmaLinux 9/10" },
  { id: "rhel", versions: ["9", "10"], family: "dnf", label: "RHEL 9/10" },
];

/** Where each step records the packages it added. */
export const PACKAGE_RECORDS = "/var/lib/kubeadm-on-pulumi/packages";

const words = (packages: string[]) => packages.map((p) => `'${p}'`).join(" ");
const recorded = (record: string | undefined) => (record ? `KOP_PACKAGE_RECORD=${PACKAGE_RECORDS}/${record} ` : "");
const library = (file: string) =>
  libraryText(["packages.sh", file].map((f) => fs.readFileSync(path.join(__dirname, f), "utf8")).join("\n")).trim();

/** The signing key, downloaded with a clear error, placed with kop_put; `onChange` runs when it changed. */
function placeKey(repo: Repository, keyPath: string, onChange: string): string {
  return [
    `kop_fetch "${repo.keyUrl}" >/tmp/kop-${repo.name}.key || kop_fail "cannot download the signing key of the ${repo.name} repository from ${repo.keyUrl}"`,
    `if kop_put ${keyPath} 0644 </tmp/kop-${repo.name}.key; then ${onChange}; fi`,
    `rm -f /tmp/kop-${repo.name}.key`,
  ].join("\n");
}

/** Shell functions the apt snippets rely on (packages.sh and apt.sh, as libraryText carries them). */
export const APT_FUNCTIONS = library("apt.sh");
/** Shell functions the dnf snippets rely on (packages.sh and dnf.sh). */
export const DNF_FUNCTIONS = library("dnf.sh");

/** The snippets every family spells alike: they call the kop_pkg_* functions its library defines. */
const neutral: Pick<PackageManager, "install" | "purgeRecorded" | "hold" | "unhold"> = {
  install: (packages, record) => `${recorded(record)}kop_pkg_install ${words(packages)}`,
  purgeRecorded: (record) => `kop_pkg_purge_recorded ${PACKAGE_RECORDS}/${record}`,
  hold: (packages) => `kop_pkg_hold ${words(packages)}`,
  unhold: (packages) => `kop_pkg_unhold ${words(packages)}`,
};

export const apt: PackageManager = {
  family: "apt",
  functions: APT_FUNCTIONS,
  ...neutral,
  addRepository: (repo) => {
    if (repo.format !== "deb") throw new Error(`apt cannot read the ${repo.format} repository ${repo.name}`);
    // apt reads ASCII-armored keys named *.asc directly (apt >= 1.4), so no gpg is needed on the host.
    const keyring = `/etc/apt/keyrings/${repo.name}.asc`;
    const line = `deb [signed-by=${keyring}] ${repo.url} ${repo.suite}${repo.components.length ? " " + repo.components.join(" ") : ""}`;
    // Double quotes: a URL may name os-release variables (${ID}) the script has read.
    return [placeKey(repo, keyring, "KOP_APT_STALE=1"), `if printf '%s\\n' "${line}" | kop_put /etc/apt/sources.list.d/${repo.name}.list 0644; then KOP_APT_STALE=1; fi`].join(
      "\n",
    );
  },
  removeRepository: (name) => `kop_restore /etc/apt/sources.list.d/${name}.list\nkop_restore /etc/apt/keyrings/${name}.asc`,
};

/**
 * The .repo file dnf reads for `repo` (signature checked against the key file placed beside it).
 * Its id is ours alone: a host set up by hand often has a [kubernetes] or [docker-ce-stable] of its
 * own, and dnf uses only one definition of an id.
 */
export function renderRepoFile(repo: Extract<Repository, { format: "rpm" }>): string {
  return [
    "# Managed by kubeadm-on-pulumi",
    `[${repoId(repo.name)}]`,
    `name=${repo.name} (kubeadm-on-pulumi)`,
    `baseurl=${repo.baseUrl}`,
    "enabled=1",
    "gpgcheck=1",
    `gpgkey=file://${rpmKeyPath(repo.name)}`,
    "",
  ].join("\n");
}

export const repoId = (name: string) => `kubeadm-on-pulumi-${name}`;
export const rpmKeyPath = (name: string) => `/etc/pki/rpm-gpg/kubeadm-on-pulumi-${name}.asc`;
export const repoFilePath = (name: string) => `/etc/yum.repos.d/kubeadm-on-pulumi-${name}.repo`;

export const dnf: PackageManager = {
  family: "dnf",
  functions: DNF_FUNCTIONS,
  ...neutral,
  addRepository: (repo) => {
    if (repo.format !== "rpm") throw new Error(`dnf cannot read the ${repo.format} repository ${repo.name}`);
    // A changed repository must not be served from dnf's metadata cache of the old one.
    const expire = `dnf -q clean expire-cache --disablerepo='*' --enablerepo=${repoId(repo.name)} >/dev/null 2>&1 || true`;
    return [
      placeKey(repo, rpmKeyPath(repo.name), expire),
      // The file's text is one single-quoted word: dnf, not bash, fills in $releasever and $basearch.
      ...(repo.baseUrl.includes("$") ? ["# shellcheck disable=SC2016"] : []),
      `if printf '%s' ${shQuote(renderRepoFile(repo))} | kop_put ${repoFilePath(repo.name)} 0644; then ${expire}; fi`,
    ].join("\n");
  },
  removeRepository: (name) => `kop_restore ${repoFilePath(name)}\nkop_restore ${rpmKeyPath(name)}`,
};

export function packageManagerFor(family: PackageManager["family"]): PackageManager {
  switch (family) {
    case "apt":
      return apt;
    case "dnf":
      return dnf;
  }
}

/** The package manager of the cluster's hosts (cluster:os.family). */
export function packageManagerOf(model: Pick<ClusterModel, "os">): PackageManager {
  return packageManagerFor(model.os.family === "rhel" ? "dnf" : "apt");
}
