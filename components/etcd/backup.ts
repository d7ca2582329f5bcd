import type { ClusterModel, HostModel } from "../config";
import { putFile, script, shQuote, type RenderedFile } from "../remote/shell";
import { memberConfig, type EtcdMemberConfig } from "./member";

export const BACKUP_SCRIPT = "/usr/local/sbin/etcd-backup";
export const BACKUP_SERVICE = "/etc/systemd/system/etcd-backup.service";
export const BACKUP_TIMER = "/etc/systemd/system/etcd-backup.timer";

export interface BackupSettings {
  schedule: string;
  retention: number;
  dir: string;
}

/** Snapshot files of one member: etcd-<member>-<UTC time>.db, so names sort by age. */
export const snapshotPattern = (member: string) => `etcd-${member}-*.db`;

/** Saves a snapshot of the local member and keeps the newest `retention` ones. */
export function renderBackupScript(c: EtcdMemberConfig, b: BackupSettings): string {
  return `#!/bin/sh
# Managed by kubeadm-on-pulumi: snapshot of etcd member ${c.name}, newest ${b.retention} kept.
set -eu
umask 077
dir=${shQuote(b.dir)}
mkdir -p "$dir"
snapshot="$dir/etcd-${c.name}-$(date -u +%Y%m%dT%H%M%SZ).db"
ETCDCTL_API=3 ${c.etcdctl} --endpoints=${c.clientUrl} \\
  --cacert=${c.pkiDir}/ca.crt --cert=${c.pkiDir}/server.crt --key=${c.pkiDir}/server.key \\
  snapshot save "$snapshot.part"
mv "$snapshot.part" "$snapshot"
# Names sort by time, and globs expand sorted: the first ones are the oldest.
set -- "$dir"/${snapshotPattern(c.name)}
excess=$(($# - ${b.retention}))
for old in "$@"; do
  [ "$excess" -gt 0 ] || break
  rm -f "$old"
  excess=$((excess - 1))
done
echo "etcd snapshot saved: $snapshot"
`;
}

export function renderBackupService(c: EtcdMemberConfig): string {
  return `# Managed by kubeadm-on-pulumi
[Unit]
Description=etcd snapshot of member ${c.name}
After=etcd.service

[Service]
Type=oneshot
ExecStart=${BACKUP_SCRIPT}
`;
}

export function renderBackupTimer(b: BackupSettings): string {
  return `# Managed by kubeadm-on-pulumi
[Unit]
Description=Scheduled etcd snapshots

[Timer]
OnCalendar=${b.schedule}
Persistent=true

[Install]
WantedBy=timers.target
`;
}

export function backupFiles(model: ClusterModel, member: HostModel): RenderedFile[] {
  const c = memberConfig(model, member);
  const b = model.etcd.backup;
  return [
    { path: BACKUP_SCRIPT, mode: "0755", content: renderBackupScript(c, b) },
    { path: BACKUP_SERVICE, mode: "0644", content: renderBackupService(c) },
    { path: BACKUP_TIMER, mode: "0644", content: renderBackupTimer(b) },
  ];
}

/** The snapshot timer of one member. Every member keeps its own snapshots, so losing hosts does not lose them all. */
export function renderBackupStep(model: ClusterModel, member: HostModel): { script: string; deleteScript: string; files: RenderedFile[] } {
  const b = model.etcd.backup;
  const files = backupFiles(model, member);
  const body = [
    `systemd-analyze calendar ${shQuote(b.schedule)} >/dev/null 2>&1 || kop_fail ${shQuote(`cluster:etcd.backup.schedule "${b.schedule}" is not a systemd calendar expression (systemd-analyze calendar)`)}`,
    `install -d -m 0700 ${shQuote(b.dir)}`,
    "reload=0",
    ...files.map((f) => putFile(f, f.path === BACKUP_SCRIPT ? ":" : "reload=1")),
    'if [ "$reload" = 1 ]; then systemctl daemon-reload; fi',
    "systemctl enable etcd-backup.timer >/dev/null 2>&1",
    // A changed schedule takes effect on restart.
    'if [ "$reload" = 1 ] || ! kop_unit_active etcd-backup.timer; then systemctl restart etcd-backup.timer; fi',
  ];
  const deleteBody = [
    "systemctl disable --now etcd-backup.timer >/dev/null 2>&1 || true",
    "systemctl stop etcd-backup.service >/dev/null 2>&1 || true",
    ...files.map((f) => `kop_restore ${shQuote(f.path)}`),
    "systemctl daemon-reload",
    "systemctl reset-failed etcd-backup.service etcd-backup.timer >/dev/null 2>&1 || true",
    b.keepOnDelete
      ? `kop_log ${shQuote(`etcd snapshots kept in ${b.dir} (cluster:etcd.backup.keepOnDelete)`)}`
      : `rm -f ${shQuote(b.dir)}/${snapshotPattern(member.name)} ${shQuote(b.dir)}/${snapshotPattern(member.name)}.part*\nrmdir ${shQuote(b.dir)} 2>/dev/null || true`,
  ];
  return {
    script: script(`scheduled etcd snapshots on ${member.name}`, body.join("\n")),
    deleteScript: script(`remove the etcd snapshot timer from ${member.name}`, deleteBody.join("\n")),
    files,
  };
}
