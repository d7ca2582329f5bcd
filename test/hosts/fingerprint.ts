/**
 * A whole-host fingerprint, for "create then destroy leaves the host as it was before the first
 * step": packages and holds, every file and directory outside the volatile trees (type, mode,
 * owner), a checksum of each regular file's content where configuration and state live (/etc,
 * /opt, /srv, /home, /root, /usr/local, /var/lib: the rest belongs to packages, compared above), systemd unit files and units, the
 * sysctls the program may touch, iptables and nftables rules, network links, mounts, users and
 * groups. One line per fact, sorted, so two fingerprints compare as text and a failing test shows
 * exactly the lines that differ.
 *
 * Left out, and why:
 * - loaded kernel modules: the kernel is the machine's, shared by every test host of a run (and a
 *   real host keeps a module loaded until reboot either way); /etc/modules-load.d is compared.
 * - trees the OS changes by itself while running: /proc, /sys, /dev, /run, /tmp, /var/tmp,
 *   /var/log, /var/cache, apt's and dpkg's own records (the package set and holds are compared
 *   instead), systemd's timestamps and random seed, journal files, and the "-" backups of the
 *   user and group files (the users and groups themselves are compared).
 * - login sessions (session-N.scope), and time-set, time-sync and network-online.target: passive
 *   targets that stay reached, until shutdown, once a unit that wants them has started; and the
 *   test harness's own first-boot unit (kop-ssh-host-keys.service), done on the first boot and
 *   skipped on the next, when a test powers a host off and on.
 * - mtimes: a file written and put back holds what it held before, and that is what counts.
 */
export function hostFingerprintScript(): string {
  const skip = [
    "/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp", "/var/log", "/var/cache", "/var/lib/apt",
    "/var/lib/dpkg", "/var/lib/systemd", "/var/lib/dhcp", "/var/lib/private", "/var/lib/chrony", "/var/lib/ucf",
    "/var/lib/sudo", "/root/.ssh", "/root/.bash_history", "/etc/ld.so.cache", "/etc/machine-id",
    // The previous versions of the user and group files, which useradd and userdel rewrite.
    "/etc/passwd-", "/etc/group-", "/etc/shadow-", "/etc/gshadow-", "/etc/subuid-", "/etc/subgid-",
  ];
  const prune = skip.map((p) => `-path '${p}'`).join(" -o ");
  return String.raw`set -u
export LC_ALL=C
{
dpkg-query -W -f='pkg ${"$"}{Package} ${"$"}{Version} ${"$"}{Status}\n'
apt-mark showhold | sed 's/^/hold /'
find / -xdev \( ${prune} \) -prune -o -printf 'path %p %y %m %u:%g\n'
find /etc /opt /srv /home /root /usr/local /var/lib -xdev \( ${prune} \) -prune -o -type f -size -8M -print0 2>/dev/null | xargs -0 -r sha256sum | awk '{ print "content " $2 " " substr($1, 1, 16) }'
systemctl list-unit-files --no-legend --no-pager | awk '$1 !~ /^session-/ { print "unit-file " $1 " " $2 }'
systemctl list-units --all --no-legend --no-pager --plain | awk '$1 !~ /^(session-|user@|user-runtime-dir@|systemd-tmpfiles-clean|apt-daily|dpkg-db-backup|e2scrub|fstrim|man-db|logrotate|init\.scope|-\.slice|sys-|time-set\.target|time-sync\.target|network-online\.target|kop-ssh-host-keys\.service)/ { print "unit " $1 " " $2 " " $3 " " $4 }'
for key in net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.ipv4.ip_nonlocal_bind vm.swappiness vm.max_map_count vm.overcommit_memory kernel.panic kernel.panic_on_oops fs.inotify.max_user_watches fs.inotify.max_user_instances; do
  printf 'sysctl %s %s\n' "$key" "$(sysctl -n "$key" 2>/dev/null || echo absent)"
done
# Rules and chains by table; a table with only its built-in chains at ACCEPT and no rule is what the
# kernel has before anything used it, and prints nothing (it stays loaded once iptables touched it).
for t in iptables ip6tables; do
  if command -v "$t-save" >/dev/null 2>&1; then "$t-save" 2>/dev/null | awk -v f="$t" '/^#/ || /^COMMIT/ { next } /^\*/ { table = substr($0, 2); next } { gsub(/ ?\[[0-9]+:[0-9]+\]/, "") } /^:(INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) ACCEPT *$/ { next } { print f " " table " " $0 }'; fi
done
if command -v nft >/dev/null 2>&1; then nft list ruleset 2>/dev/null | sed 's/^/nft /'; fi
ip -o link show | awk '{ sub(/@.*/, "", $2); print "link " $2 }'
findmnt -rn -o TARGET,FSTYPE | awk '{ print "mount " $1 " " $2 }'
getent passwd | awk -F: '{ print "user " $1 " " $3 " " $4 " " $6 " " $7 }'
getent group | awk -F: '{ print "group " $1 " " $3 " " $4 }'
} | sort
`;
}

/** The lines only one of two fingerprints has, marked - (before) and + (after): empty when equal. */
export function fingerprintDiff(before: string, after: string): string[] {
  const a = new Set(before.split("\n"));
  const b = new Set(after.split("\n"));
  return [...[...a].filter((l) => !b.has(l)).map((l) => `- ${l}`), ...[...b].filter((l) => !a.has(l)).map((l) => `+ ${l}`)];
}

/** A fingerprint's package lines (name and status -> version) apart from the rest of its lines. */
export function splitPackages(fingerprint: string): { packages: Map<string, string>; rest: string[] } {
  const packages = new Map<string, string>();
  const rest: string[] = [];
  for (const line of fingerprint.split("\n")) {
    const m = /^pkg (\S+) (\S+) (.*)$/.exec(line);
    if (m) packages.set(`${m[1]} ${m[3]}`, m[2]);
    else rest.push(line);
  }
  return { packages, rest };
}
