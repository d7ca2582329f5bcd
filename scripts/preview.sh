#!/usr/bin/env bash
# The main job: `pulumi preview --diff` of a stack (default: dev) on a local file backend kept
# inside the project (.pulumi-state/), with a passphrase secrets provider.
#   scripts/preview.sh [stack]
# Needs the pulumi CLI and the command, kubernetes and random plugins: on a machine with internet
# access the official installer provides them (see README); scripts/install-pulumi.sh builds them
# from Go modules where only package registries are reachable.
set -euo pipefail
stack=${1:-dev}
cd "$(dirname "$0")/.."

toolchain_env="${KOP_TOOLCHAIN_DIR:-$HOME/.cache/kubeadm-on-pulumi/toolchain}/env.sh"
# shellcheck source=/dev/null
if [ -f "$toolchain_env" ]; then . "$toolchain_env"; fi
command -v pulumi >/dev/null || { echo "pulumi CLI not found: install it (README, Quick start)" >&2; exit 1; }
[ -d node_modules ] || npm ci --no-audit --no-fund

# The dev stack reads its SSH key from ~/.ssh/kubeadm-on-pulumi-dev: make a throwaway one if missing
# (put its .pub into root's authorized_keys on the dev hosts before `pulumi up`).
if [ "$stack" = dev ] && [ ! -f "$HOME/.ssh/kubeadm-on-pulumi-dev" ]; then
  mkdir -p "$HOME/.ssh" && chmod 700 "$HOME/.ssh"
  ssh-keygen -q -t ed25519 -N '' -C kubeadm-on-pulumi-dev -f "$HOME/.ssh/kubeadm-on-pulumi-dev"
  echo "generated $HOME/.ssh/kubeadm-on-pulumi-dev(.pub) for the dev stack" >&2
fi

export PULUMI_SKIP_UPDATE_CHECK=true
# A preview's snapshot is thrown away, yet the file backend serializes and encrypts the whole of it
# after every step: quadratic in the resources (a 100-worker preview 46 s -> 18 s without it, 1000
# workers unfinished after 14 minutes -> 68 s; docs/benchmarks.md). pulumi's own switch, saving once
# at the end; costless for a preview.
export PULUMI_SKIP_CHECKPOINTS=true
# Local state only: an empty passphrase unless you set one (use a real one for shared stacks).
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
mkdir -p .pulumi-state
pulumi login "file://$PWD/.pulumi-state" >/dev/null
pulumi stack select "$stack" 2>/dev/null || pulumi stack init "$stack" --secrets-provider passphrase
pulumi preview --stack "$stack" --diff
