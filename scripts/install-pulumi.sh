#!/usr/bin/env bash
# The build steps run through run_piece "$@", which shellcheck cannot follow:
# shellcheck disable=SC2317
# Build the Pulumi engine toolchain this project needs from Go modules:
#   - the `pulumi` CLI              (github.com/pulumi/pulumi/pkg/v3, ./cmd/pulumi)
#   - the Node.js language host     (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3)
#   - the nodejs SDK's shell shims  (sdk/nodejs/dist in github.com/pulumi/pulumi/sdk/v3)
#   - the resource plugins command, kubernetes and random, at exactly the
#     versions the installed npm packages request, installed into PULUMI_HOME
#     with `pulumi plugin install resource NAME VERSION --file BINARY`.
#
# Plugin versions come from node_modules/@pulumi/*/package.json (falling back
# to package.json). The CLI is the newest release the Go module proxy serves
# in full (DEFAULT_CLI_VERSION below), and the language host falls back by
# itself to the newest release that builds here (docs/toolchain.md). Everything
# is cached under KOP_TOOLCHAIN_DIR (default /var/cache/kubeadm-on-pulumi/toolchain
# for root, ~/.cache/kubeadm-on-pulumi/toolchain otherwise), keyed by version,
# Go version and recipe; a piece already built that way is skipped.
#
# A piece that cannot be built (the Go module proxy does not serve it, a
# replace points at a nested module nobody publishes, the build fails) is
# reported with the reason; the other pieces are still built; the exit status
# is non-zero if any selected piece failed. Nothing is ever faked.
#
# Usage: scripts/install-pulumi.sh [--only pulumi|command|kubernetes|random]... [-h]
#
# Environment:
#   KOP_TOOLCHAIN_DIR          cache and bin dir root (see above)
#   PULUMI_HOME                where plugins are installed (default $KOP_TOOLCHAIN_DIR/pulumi-home)
#   KOP_GO_PARALLELISM         go build -p value (default 2)
#   KOP_PULUMI_VERSION         build this CLI version (default DEFAULT_CLI_VERSION)
#   KOP_LANGUAGE_HOST_VERSION  build the Node.js language host at this version
#                              (default: the CLI version, then LANGUAGE_HOST_FALLBACK)
set -euo pipefail

RECIPE=1 # bump when the build recipe changes, to invalidate the stamps

# The newest CLI release the Go module proxy here serves in full (v3.270.0, the
# @pulumi/pulumi pin, is refused: docs/toolchain.md).
DEFAULT_CLI_VERSION=3.276.0
# The proxy refuses the language host's own module at every version; its last
# release inside github.com/pulumi/pulumi/sdk/v3 is the newest host that builds.
LANGUAGE_HOST_FALLBACK=3.68.0
# Plugin releases whose tag the proxy does not serve, built from the commit the
# release was tagged on (a pseudo-version the proxy does serve):
# NAME@VERSION=MODULE_VERSION.
PLUGIN_SOURCES=(
  "kubernetes@4.25.0=v4.0.0-20260115033456-f47bc2d6f199"
)

usage() {
  sed -n '4,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

ONLY=()
while (($#)); do
  case "$1" in
    --only)
      [[ $# -ge 2 ]] || { echo "--only needs an argument" >&2; exit 2; }
      ONLY+=("$2"); shift 2 ;;
    --only=*) ONLY+=("${1#--only=}"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
for o in "${ONLY[@]+"${ONLY[@]}"}"; do
  case "$o" in
    pulumi|command|kubernetes|random) ;;
    *) echo "--only takes pulumi, command, kubernetes or random, not '$o'" >&2; exit 2 ;;
  esac
done
selected() {
  ((${#ONLY[@]} == 0)) && return 0
  local o
  for o in "${ONLY[@]}"; do [[ "$o" == "$1" ]] && return 0; done
  return 1
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z "${KOP_TOOLCHAIN_DIR:-}" ]]; then
  if [[ $(id -u) == 0 ]]; then KOP_TOOLCHAIN_DIR=/var/cache/kubeadm-on-pulumi/toolchain; else KOP_TOOLCHAIN_DIR=$HOME/.cache/kubeadm-on-pulumi/toolchain; fi
fi
TOOLCHAIN_DIR=$KOP_TOOLCHAIN_DIR
BIN_DIR=$TOOLCHAIN_DIR/bin
SRC_DIR=$TOOLCHAIN_DIR/src
OUT_DIR=$TOOLCHAIN_DIR/plugins
STAMP_DIR=$TOOLCHAIN_DIR/stamps
LOG_DIR=$TOOLCHAIN_DIR/logs
mkdir -p "$BIN_DIR" "$SRC_DIR" "$OUT_DIR" "$STAMP_DIR" "$LOG_DIR"

export PULUMI_HOME=${PULUMI_HOME:-$TOOLCHAIN_DIR/pulumi-home}
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PATH="$BIN_DIR:$PATH"
GO_P=${KOP_GO_PARALLELISM:-2}

for tool in go node; do
  command -v "$tool" >/dev/null || { echo "error: '$tool' is not on PATH" >&2; exit 1; }
done
GO_VERSION=$(go env GOVERSION)

log() { printf '==> %s\n' "$*"; }
now() { date +%s; }
fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# ---------------------------------------------------------------- versions --

# npm_version PACKAGE FIELD: FIELD is "version" or "plugin" (pulumi.version || version).
npm_version() {
  node - "$ROOT" "$1" "$2" <<'EOF'
const [root, pkg, field] = process.argv.slice(2);
const fs = require("fs"), path = require("path");
const installed = path.join(root, "node_modules", pkg, "package.json");
if (fs.existsSync(installed)) {
  const p = JSON.parse(fs.readFileSync(installed, "utf8"));
  const v = field === "plugin" ? (p.pulumi && p.pulumi.version) || p.version : p.version;
  process.stdout.write(String(v).replace(/^v/, ""));
} else {
  const p = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  const v = (p.dependencies || {})[pkg] || (p.devDependencies || {})[pkg];
  if (!v || !/^[~^]?\d+\.\d+\.\d+$/.test(v)) {
    console.error(`${pkg} is neither installed (run npm ci) nor pinned to an exact version in package.json`);
    process.exit(1);
  }
  process.stdout.write(v.replace(/^[~^]/, ""));
}
EOF
}

# ------------------------------------------------------------- go helpers --

# mod_download MODULE@VERSION: prints the module's directory; on failure
# prints the proxy's error to stderr and returns 1.
mod_download() {
  local json
  json=$(cd "$TOOLCHAIN_DIR" && GOFLAGS='' go mod download -json "$1" 2>&1) || true
  node -e '
    let s = require("fs").readFileSync(0, "utf8"), j;
    try { j = JSON.parse(s); } catch (e) { console.error(s.trim()); process.exit(1); }
    if (j.Error || !j.Dir) { console.error(j.Error || s.trim()); process.exit(1); }
    process.stdout.write(j.Dir);' <<<"$json"
}

# explain ERROR_TEXT: one-line reason for a failed module download.
explain() {
  case "$1" in
    *"403 Forbidden"*)
      echo "the Go module proxy refuses to serve it (HTTP 403: $(sed -n 's/^[[:space:]]*server response: //p' <<<"$1" | head -n 1))" ;;
    *"404 Not Found"*|*"410 Gone"*|*"unknown revision"*|*"git ls-remote"*)
      echo "the Go module proxy does not know this module version (HTTP 404/410; the fallback to the origin repository then fails: $(head -n 1 <<<"$1" | cut -c1-160)). For a module in a repository subdirectory the proxy only knows versions tagged <subdir>/vX.Y.Z" ;;
    *) head -n 1 <<<"$1" ;;
  esac
}

# copy_module MODULE VERSION DEST: writable copy of the module source.
copy_module() {
  local dir
  dir=$(mod_download "$1@$2") || return 1
  rm -rf "$3" && mkdir -p "$(dirname "$3")" && cp -R "$dir" "$3" && chmod -R u+w "$3"
}

# fix_dir_replaces MODDIR TAG: rewrites `replace X => ../dir` directives (which
# point at directories that are not part of a module zip) into versioned
# requirements of X: first at the same tag as the module being built, then at
# the version go.mod already requires. Fails, saying why, when neither exists.
fix_dir_replaces() {
  local moddir=$1 tag=$2 old oldver target req cand err errs ok
  local -a edits=()
  while IFS='|' read -r old oldver target req; do # '|': tabs would merge empty fields
    [[ -n "$old" ]] || continue
    if [[ -f "$moddir/$target/go.mod" ]]; then
      continue # the directory is part of the copy: nothing to rewrite
    fi
    ok="" errs=""
    for cand in "$tag" "$req"; do
      [[ -n "$cand" && "$cand" != v0.0.0-00010101000000-000000000000 && "$cand" != v0.0.0 ]] || continue
      if err=$(mod_download "$old@$cand" 2>&1 >/dev/null); then ok=$cand; break; fi
      errs+=" $old@$cand: $(explain "$err");"
    done
    if [[ -z "$ok" ]]; then
      echo "replace $old => $target points at a directory outside the module zip (a nested or sibling module), and no published version of $old could be used instead:${errs:- go.mod requires no usable version of it}" >&2
      return 1
    fi
    echo "    replace $old => $target  ->  require $old $ok"
    edits+=("-dropreplace=$old${oldver:+@$oldver}" "-require=$old@$ok")
  done < <(cd "$moddir" && go mod edit -json | node -e '
    const m = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const req = Object.fromEntries((m.Require || []).map(r => [r.Path, r.Version]));
    for (const r of m.Replace || []) {
      if (r.New.Version) continue; // module replace, fine as it is
      console.log([r.Old.Path, r.Old.Version || "", r.New.Path, req[r.Old.Path] || ""].join("|"));
    }')
  if ((${#edits[@]})); then
    (cd "$moddir" && go mod edit "${edits[@]}")
  fi
}

# Flags for go generate (its `go run` inherits them) and go build: -mod=mod
# lets go fill in go.sum for the rewritten requirements; -buildvcs=false since
# the copies are not checkouts.
BUILD_GOFLAGS="-mod=mod -buildvcs=false -trimpath -p=$GO_P"

# go_build MODDIR PKG OUT LDFLAGS
go_build() {
  (cd "$1" && GOFLAGS=$BUILD_GOFLAGS go build -ldflags "-s -w $4" -o "$3" "$2")
}

stamp_ok() { [[ -f "$STAMP_DIR/$1" && "$(cat "$STAMP_DIR/$1")" == "$2" ]]; }
stamp_set() { printf '%s' "$2" >"$STAMP_DIR/$1"; }

pulumi_cli() {
  if [[ -x "$BIN_DIR/pulumi" ]]; then echo "$BIN_DIR/pulumi"; else command -v pulumi || true; fi
}

# ------------------------------------------------------------------ pieces --

SDK_VERSION=$(npm_version @pulumi/pulumi version)
CLI_VERSION=${KOP_PULUMI_VERSION:-$DEFAULT_CLI_VERSION}
CLI_VERSION=${CLI_VERSION#v}
LANG_VERSION=${KOP_LANGUAGE_HOST_VERSION:-$CLI_VERSION}
LANG_VERSION=${LANG_VERSION#v}
PULUMI_VERSION_VAR=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version

build_cli() {
  local key="v$CLI_VERSION|$GO_VERSION|recipe$RECIPE" src=$SRC_DIR/pulumi-pkg@v$CLI_VERSION err
  if stamp_ok pulumi-cli "$key" && [[ -x "$BIN_DIR/pulumi" ]]; then
    log "pulumi CLI v$CLI_VERSION already built"; return 0
  fi
  log "pulumi CLI v$CLI_VERSION: github.com/pulumi/pulumi/pkg/v3@v$CLI_VERSION ./cmd/pulumi"
  if ! err=$(copy_module github.com/pulumi/pulumi/pkg/v3 "v$CLI_VERSION" "$src" 2>&1); then
    echo "cannot get github.com/pulumi/pulumi/pkg/v3@v$CLI_VERSION: $(explain "$err")" >&2; return 1
  fi
  fix_dir_replaces "$src" "v$CLI_VERSION"
  go_build "$src" ./cmd/pulumi "$BIN_DIR/pulumi.tmp" "-X $PULUMI_VERSION_VAR=v$CLI_VERSION"
  mv "$BIN_DIR/pulumi.tmp" "$BIN_DIR/pulumi"
  rm -rf "$src"
  stamp_set pulumi-cli "$key"
}

# build_host_at VERSION: builds the host of one release into $BIN_DIR/pulumi-language-nodejs.tmp.
build_host_at() {
  local v=$1 mod=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 src err sdkdir
  src=$SRC_DIR/pulumi-language-nodejs@v$v
  if err=$(copy_module "$mod" "v$v" "$src" 2>&1); then
    fix_dir_replaces "$src" "v$v"
    go_build "$src" . "$BIN_DIR/pulumi-language-nodejs.tmp" "-X $PULUMI_VERSION_VAR=v$v"
  elif sdkdir=$(mod_download "github.com/pulumi/pulumi/sdk/v3@v$v" 2>/dev/null) &&
    [[ -f "$sdkdir/nodejs/cmd/pulumi-language-nodejs/main.go" ]]; then
    # Before the language hosts got go.mod files of their own, the host was a
    # package of github.com/pulumi/pulumi/sdk/v3.
    log "  $mod@v$v is not obtainable ($(explain "$err")); building the host from github.com/pulumi/pulumi/sdk/v3@v$v, which still contains it"
    copy_module github.com/pulumi/pulumi/sdk/v3 "v$v" "$src"
    fix_dir_replaces "$src" "v$v"
    go_build "$src" ./nodejs/cmd/pulumi-language-nodejs "$BIN_DIR/pulumi-language-nodejs.tmp" "-X $PULUMI_VERSION_VAR=v$v"
  else
    echo "cannot get $mod@v$v: $(explain "$err"); github.com/pulumi/pulumi/sdk/v3@v$v does not contain nodejs/cmd/pulumi-language-nodejs either (newer releases ship the host as a module of its own)" >&2
    rm -rf "$src"
    return 1
  fi
  rm -rf "$src"
}

# The language host at LANG_VERSION, else (by itself) at LANGUAGE_HOST_FALLBACK.
build_language_host() {
  local key="v$LANG_VERSION,v$LANGUAGE_HOST_FALLBACK|$GO_VERSION|recipe$RECIPE" v built=""
  if stamp_ok pulumi-language-nodejs "$key" && [[ -x "$BIN_DIR/pulumi-language-nodejs" ]]; then
    log "pulumi-language-nodejs already built ($(cat "$STAMP_DIR/pulumi-language-nodejs.version" 2>/dev/null))"; return 0
  fi
  for v in "$LANG_VERSION" "$LANGUAGE_HOST_FALLBACK"; do
    log "pulumi-language-nodejs v$v"
    if (build_host_at "$v"); then built=$v; break; fi
    [[ "$v" == "$LANGUAGE_HOST_FALLBACK" ]] || log "  falling back to the language host v$LANGUAGE_HOST_FALLBACK"
  done
  [[ -n "$built" ]] || { echo "no language host could be built (tried v$LANG_VERSION and v$LANGUAGE_HOST_FALLBACK)" >&2; return 1; }
  mv "$BIN_DIR/pulumi-language-nodejs.tmp" "$BIN_DIR/pulumi-language-nodejs"
  printf 'v%s' "$built" >"$STAMP_DIR/pulumi-language-nodejs.version"
  stamp_set pulumi-language-nodejs "$key"
}

# The nodejs SDK's shell shims (sdk/nodejs/dist): pulumi-resource-pulumi-nodejs
# serves dynamic providers (pulumi.dynamic.Resource); pulumi-analyzer-policy
# (older releases) runs policy packs. A plain preview/up needs neither, but the
# engine looks them up on PATH when a program uses those features.
install_shims() {
  local key="v$SDK_VERSION|recipe$RECIPE" dir f n=0
  if stamp_ok nodejs-shims "$key"; then log "nodejs SDK shims v$SDK_VERSION already installed"; return 0; fi
  log "nodejs SDK shims from github.com/pulumi/pulumi/sdk/v3@v$SDK_VERSION nodejs/dist"
  if dir=$(mod_download "github.com/pulumi/pulumi/sdk/v3@v$SDK_VERSION" 2>/dev/null) && [[ -d "$dir/nodejs/dist" ]]; then
    dir=$dir/nodejs/dist
  else
    dir=$ROOT/node_modules/@pulumi/pulumi # the npm package ships the same shims
  fi
  for f in pulumi-resource-pulumi-nodejs pulumi-analyzer-policy; do
    if [[ -f "$dir/$f" ]]; then
      install -m 0755 "$dir/$f" "$BIN_DIR/$f"; echo "    $BIN_DIR/$f"; n=$((n + 1))
    fi
  done
  ((n > 0)) || { echo "no shims found in $dir" >&2; return 1; }
  stamp_set nodejs-shims "$key"
}

# plugin_source NAME VERSION: the module version a plugin release is built from.
plugin_source() {
  local entry
  for entry in "${PLUGIN_SOURCES[@]}"; do
    if [[ "${entry%%=*}" == "$1@$2" ]]; then echo "${entry#*=}"; return; fi
  done
  echo "v$2"
}

# build_plugin NAME: the resource plugin the npm package @pulumi/NAME requests.
build_plugin() {
  local name=$1 version major suffix mod modver src cmd out key plugdir pulumi err
  version=$(npm_version "@pulumi/$name" plugin)
  major=${version%%.*}
  suffix=""; ((major >= 2)) && suffix="/v$major"
  mod=github.com/pulumi/pulumi-$name/provider$suffix
  modver=$(plugin_source "$name" "$version")
  cmd=./cmd/pulumi-resource-$name
  out=$OUT_DIR/pulumi-resource-$name-v$version
  key="$modver|$GO_VERSION|recipe$RECIPE"
  plugdir=$PULUMI_HOME/plugins/resource-$name-v$version
  if [[ -x "$plugdir/pulumi-resource-$name" ]] && { stamp_ok "plugin-$name" "$key" || [[ ! -f "$STAMP_DIR/plugin-$name" ]]; }; then
    log "resource plugin $name v$version already installed in $plugdir"; return 0
  fi
  log "resource plugin $name v$version: $mod@$modver $cmd"
  if ! { stamp_ok "plugin-$name" "$key" && [[ -x "$out" ]]; }; then
    src=$SRC_DIR/pulumi-$name@v$version
    if ! err=$(copy_module "$mod" "$modver" "$src" 2>&1); then
      echo "cannot get $mod@$modver: $(explain "$err")" >&2; return 1
    fi
    fix_dir_replaces "$src" "v$version"
    # Generated, embedded files (schema-embed.json and friends) are not in the
    # module zip: run the package's go:generate step like the Makefiles do.
    if grep -qs '^//go:generate' "$src/$cmd"/*.go; then
      log "  go generate $cmd (VERSION=$version)"
      (cd "$src" && VERSION=$version GOFLAGS=$BUILD_GOFLAGS go generate "$cmd")
    fi
    go_build "$src" "$cmd" "$out.tmp" "-X $mod/pkg/version.Version=$version"
    mv "$out.tmp" "$out"
    rm -rf "$src"
    stamp_set "plugin-$name" "$key"
  fi
  pulumi=$(pulumi_cli)
  if [[ -z "$pulumi" ]]; then
    echo "built $out, but there is no pulumi CLI to install it with (build the 'pulumi' piece first)" >&2; return 1
  fi
  "$pulumi" plugin install resource "$name" "$version" --file "$out" --reinstall
}

# ------------------------------------------------------------------- main --

declare -a SUMMARY=()
FAILED=0
T0=$(now)

# run_piece LABEL FUNCTION [ARGS...]: runs a piece in a subshell so that one
# failure does not stop the others; its output goes to the terminal and a log.
run_piece() {
  local label=$1 t rc logf
  shift
  logf=$LOG_DIR/$label.log
  t=$(now)
  set +e
  ( set -euo pipefail; "$@" ) 2>&1 | tee "$logf"
  rc=${PIPESTATUS[0]}
  set -e
  t=$(($(now) - t))
  if ((rc == 0)); then
    SUMMARY+=("$(printf '  %-24s ok      %s' "$label" "$(fmt_secs "$t")")")
  else
    FAILED=1
    SUMMARY+=("$(printf '  %-24s FAILED  %s  -- %s' "$label" "$(fmt_secs "$t")" "$(grep -v '^\(==>\|    \)' "$logf" | tail -n 1)")")
  fi
}

log "toolchain dir: $TOOLCHAIN_DIR (bin: $BIN_DIR); PULUMI_HOME: $PULUMI_HOME; $GO_VERSION, go build -p $GO_P"
log "@pulumi/pulumi v$SDK_VERSION -> CLI v$CLI_VERSION, language host v$LANG_VERSION"
if [[ "$CLI_VERSION" != "$SDK_VERSION" || "$LANG_VERSION" != "$SDK_VERSION" ]]; then
  log "note: the CLI and language host differ from the @pulumi/pulumi SDK version (the proxy does not serve that release: docs/toolchain.md)"
fi

if selected pulumi; then
  run_piece pulumi-cli build_cli
  run_piece pulumi-language-nodejs build_language_host
  run_piece nodejs-shims install_shims
fi
for p in command kubernetes random; do
  if selected "$p"; then run_piece "plugin-$p" build_plugin "$p"; fi
done

cat >"$TOOLCHAIN_DIR/env.sh" <<EOF
# Source this file to use the toolchain built by scripts/install-pulumi.sh.
export PATH="$BIN_DIR:\$PATH"
export PULUMI_HOME="$PULUMI_HOME"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
EOF

echo
echo "Summary ($(fmt_secs $(($(now) - T0))) in total):"
printf '%s\n' "${SUMMARY[@]}"
echo
echo "bin dir:     $BIN_DIR"
echo "plugins:     $PULUMI_HOME/plugins"
echo "environment: . $TOOLCHAIN_DIR/env.sh"
if [[ -x "$BIN_DIR/pulumi" ]]; then
  echo "pulumi:      $("$BIN_DIR/pulumi" version 2>/dev/null || echo '?')"
fi
exit "$FAILED"
