import * as fs from "node:fs";
import * as path from "node:path";
import { libraryText } from "../remote/shell";

/**
 * The package-manager family of a host, as bash snippets. Scripts stay family-neutral
 * by calling these; adding a dnf family means one more implementation here and in
 * SUPPORTED_OS.
 */
export interface PackageManager {
  family: "apt";
  /** Refreshes package indexes (only when older than a run: cheap to call twice). */
  refresh(): string;
  /**
   * Installs packages; "name=version" pins exactly. Already-installed packages are left alone.
   * With `record`, the packages this call adds are remembered under that name for purgeRecorded.
   */
  install(packages: string[], record?: string): string;
  /** Removes exactly what install(..., record) added, with dependencies nothing else needs. */
  purgeRecorded(record: string): string;
  hold(packages: string[]): string;
  unhold(packages: string[]): string;
  /** Adds a signed repository: key fetched from keyUrl, source line scoped to that key only. */
  addRepository(repo: { name: string; url: string; suite: string; components: string[]; keyUrl: string }): string;
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
];

/** Where each step records the packages it added. */
export const PACKAGE_RECORDS = "/var/lib/kubeadm-on-pulumi/packages";

const words = (packages: string[]) => packages.map((p) => `'${p}'`).join(" ");

export const apt: PackageManager = {
  family: "apt",
  refresh: () => "kop_apt_refresh",
  install: (packages, record) =>
    `${record ? `KOP_PACKAGE_RECORD=${PACKAGE_RECORDS}/${record} ` : ""}kop_apt_install ${words(packages)}`,
  purgeRecorded: (record) => `kop_apt_purge_recorded ${PACKAGE_RECORDS}/${record}`,
  hold: (packages) => `apt-mark hold ${words(packages)} >/dev/null`,
  unhold: (packages) => `for p in ${words(packages)}; do if dpkg-query -W "$p" >/dev/null 2>&1; then apt-mark unhold "$p" >/dev/null; fi; done`,
  addRepository: (repo) => {
    // apt reads ASCII-armored keys named *.asc directly (apt >= 1.4), so no gpg is needed on the host.
    const keyring = `/etc/apt/keyrings/${repo.name}.asc`;
    const line = `deb [signed-by=${keyring}] ${repo.url} ${repo.suite}${repo.components.length ? " " + repo.components.join(" ") : ""}`;
    return [
      `kop_fetch '${repo.keyUrl}' >/tmp/kop-${repo.name}.key || kop_fail "cannot download the signing key of the ${repo.name} repository from ${repo.keyUrl}"`,
      `if kop_put ${keyring} 0644 </tmp/kop-${repo.name}.key; then KOP_APT_STALE=1; fi`,
      `rm -f /tmp/kop-${repo.name}.key`,
      `if printf '%s\\n' '${line}' | kop_put /etc/apt/sources.list.d/${repo.name}.list 0644; then KOP_APT_STALE=1; fi`,
    ].join("\n");
  },
  removeRepository: (name) =>
    `kop_restore /etc/apt/sources.list.d/${name}.list\nkop_restore /etc/apt/keyrings/${name}.asc`,
};

/** Shell functions the apt snippets rely on (apt.sh, as libraryText carries it). */
export const APT_FUNCTIONS = libraryText(fs.readFileSync(path.join(__dirname, "apt.sh"), "utf8")).trim();

export function packageManagerFor(family: PackageManager["family"]): PackageManager {
  switch (family) {
    case "apt":
      return apt;
  }
}
