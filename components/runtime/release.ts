import * as fs from "node:fs";
import * as path from "node:path";
import type { ClusterModel } from "../config";
import { STATE_DIR } from "../host/prep";
import { putFile, shQuote, type RenderedFile } from "../remote/shell";

/**
 * containerd 2 and runc from the upstream release files (cluster:runtime.containerd.source
 * "release"), fetched from cluster:mirrors.releases.containerd / .runc and checked against the
 * sha256 files published beside them. The binaries go to /usr/local (where upstream's unit
 * expects them) and the list of what was installed is kept for the delete.
 */

export const CONTAINERD_UNIT = "/etc/systemd/system/containerd.service";
const RELEASE_FILES = `${STATE_DIR}/containerd-release-files`;

/** containerd's own systemd unit (containerd.service of the release, v2.4.2). */
export function renderContainerdUnit(): string {
  return fs.readFileSync(path.join(__dirname, "containerd.service"), "utf8");
}

export function releaseFiles(): RenderedFile[] {
  return [{ path: CONTAINERD_UNIT, mode: "0644", content: renderContainerdUnit() }];
}

/**
 * kop_verified URL SUMS_URL NAME DEST MIRROR_KEY: downloads URL to DEST and checks it against NAME's
 * line in the sha256sum-format file SUMS_URL; a failure names the mirror key to set.
 */
export const VERIFIED_FETCH = String.raw`kop_verified() {
  local url=$1 sums_url=$2 name=$3 dest=$4 expected actual
  kop_fetch "$url" >"$dest" || kop_fail "cannot download $url (set cluster:mirrors.releases.$5 to a mirror of the release files)"
  expected=$(kop_fetch "$sums_url" | awk -v f="$name" '{ n = $2; sub(/^\*/, "", n) } n == f { print $1 }') || kop_fail "cannot download the checksums $sums_url"
  [ -n "$expected" ] || kop_fail "$sums_url lists no checksum for $name"
  actual=$(sha256sum "$dest" | awk '{print $1}')
  [ "$actual" = "$expected" ] || kop_fail "checksum mismatch for $url: got $actual, $sums_url says $expected"
}`;

export function releaseInstall(model: ClusterModel): string {
  const { version, runcVersion } = model.runtime.containerd;
  const containerdBase = `${model.mirrors.releases.containerd.replace(/\/$/, "")}/v${version}`;
  const runcBase = `${model.mirrors.releases.runc.replace(/\/$/, "")}/v${runcVersion}`;
  return String.raw`# --- containerd ${version} and runc ${runcVersion} from the release files
arch=$(dpkg --print-architecture)
restart_containerd=0
mkdir -p ${STATE_DIR}
${VERIFIED_FETCH}
# Versions are read whole, then compared: grep -q closes the pipe at its first match, and under
# pipefail a program still writing (runc prints five lines) would fail the check with SIGPIPE.
containerd_installed=$(/usr/local/bin/containerd --version 2>/dev/null || true)
if [[ "$containerd_installed " != *' v${version} '* ]]; then
  tmp=$(mktemp -d)
  file=containerd-${version}-linux-"$arch".tar.gz
  kop_verified ${shQuote(containerdBase)}/"$file" ${shQuote(containerdBase)}/"$file".sha256sum "$file" "$tmp/$file" containerd
  tar -xzf "$tmp/$file" -C "$tmp"
  for bin in "$tmp"/bin/*; do
    install -m 0755 "$bin" /usr/local/bin/
    grep -qxF "/usr/local/bin/$(basename "$bin")" ${RELEASE_FILES} 2>/dev/null || echo "/usr/local/bin/$(basename "$bin")" >>${RELEASE_FILES}
  done
  rm -rf "$tmp"
  restart_containerd=1
fi
runc_installed=$(/usr/local/sbin/runc --version 2>/dev/null || true)
if [[ "$runc_installed" != 'runc version ${runcVersion}' && "$runc_installed" != 'runc version ${runcVersion}'$'\n'* ]]; then
  tmp=$(mktemp -d)
  kop_verified ${shQuote(runcBase)}/runc."$arch" ${shQuote(runcBase)}/runc.sha256sum runc."$arch" "$tmp/runc" runc
  install -m 0755 "$tmp/runc" /usr/local/sbin/runc
  grep -qxF /usr/local/sbin/runc ${RELEASE_FILES} 2>/dev/null || echo /usr/local/sbin/runc >>${RELEASE_FILES}
  rm -rf "$tmp"
fi
${putFile(releaseFiles()[0], "systemctl daemon-reload; restart_containerd=1")}
if [ "$restart_containerd" = 1 ] && systemctl is-active --quiet containerd; then systemctl restart containerd; fi`;
}

export function releaseRemove(): string {
  return String.raw`systemctl disable --now containerd.service 2>/dev/null || true
if [ -f ${RELEASE_FILES} ]; then xargs -r rm -f <${RELEASE_FILES}; rm -f ${RELEASE_FILES}; fi
kop_restore ${CONTAINERD_UNIT}
systemctl daemon-reload`;
}
