/**
 * The engine's plan: each host's preparation chain (os-prep, hosts-file, runtime-install,
 * runtime-config, kube-packages, kubeadm-config, whichever the host has) becomes one step,
 * `<host>/node-prep`, whose script runs the original steps' scripts in order. Each part runs
 * only when its script changed since it last succeeded on the host, or when one of its files'
 * applied records is missing or stale (a drift repair, a run that wrote and then failed), so a
 * mirror change still re-runs only the runtime configuration, on the host.
 *
 * Why: the Pulumi SDK's cost per resource (docs/benchmarks.md). Six resources per worker for
 * a chain nothing else waits on in between was a third of the program's memory at 1000
 * workers. The fine-grained plan (planCluster) stays what the hosts tier tests step by step;
 * `npm run render` and the engine use this one.
 */
import { APT_FUNCTIONS, DNF_FUNCTIONS } from "../host/package-manager";
import { heredocMarker, PRELUDE, sha256, shQuote } from "./shell";
import { checkPlan, stepId, type ClusterPlan, type StepSpec } from "./step";

/** The steps a host's node-prep runs, in this order (each only where the host has it). */
export const NODE_PREP_PARTS = ["os-prep", "hosts-file", "runtime-install", "runtime-config", "kube-packages", "kubeadm-config"] as const;
export const nodePrepId = (host: string) => stepId(host, "node-prep");

/** Where node-prep records, per part, the sha256 of the script that last succeeded. */
export const PARTS_DIR = "/var/lib/kubeadm-on-pulumi/parts";
/**
 * node-prep writes its undo script here before anything else; its delete runs it. A host can
 * so be cleaned even if Pulumi never recorded the step (a first run that failed half-way).
 */
export const UNDO_DIR = "/var/lib/kubeadm-on-pulumi/undo";

const partName = (step: StepSpec) => step.id.slice(step.host.length + 1);

/**
 * Function libraries every part's script repeats (the prelude; apt's or dnf's). node-prep carries
 * each its parts use once, as data, and puts it back where a part had it just before the part runs: the parts
 * run exactly their own scripts. node-prep itself and its undo script run the prelude from
 * that data too, and the undo script is written on the host from it (see undoWriter).
 */
const SHARED_BLOCKS = [PRELUDE.trim(), APT_FUNCTIONS.trim(), DNF_FUNCTIONS.trim()];
const sharedMark = (i: number) => `# kop-shared-block ${i}`;
/** Block i as bash data: `KOP_SHARED_i=$(cat <<'MARKER'`, the block, then MARKER and `)`. */
const SHARED_DEFINITIONS = SHARED_BLOCKS.map((block, i) => {
  const marker = heredocMarker(block + "\n");
  return { block, variable: `KOP_SHARED_${i}`, head: `KOP_SHARED_${i}=$(cat <<'${marker}'\n`, tail: `${marker}\n)\n` };
});

/** A part's script with each shared block replaced by its mark (a comment line). */
export function withoutSharedBlocks(text: string): string {
  return SHARED_BLOCKS.reduce((t, block, i) => t.split(block).join(sharedMark(i)), text);
}

/**
 * The shared blocks as variables, the prelude run from its variable (no second copy), and
 * kop_expand to put the blocks back into a part (quoted: `&` is literal).
 */
function sharedLibrary(used: readonly number[]): string {
  return [
    ...used.map((i) => SHARED_DEFINITIONS[i]).map((d) => d.head + d.block + "\n" + d.tail),
    'eval "$KOP_SHARED_0"',
    "# kop_expand TEXT: the part's script as written, shared blocks put back.",
    "kop_expand() {",
    "  local t=$1",
    ...used.map((i) => `  t=\${t//"${sharedMark(i)}"/"$KOP_SHARED_${i}"}`),
    "  printf '%s\\n' \"$t\"",
    "}",
  ].join("\n");
}

/** The shared blocks any of the parts' scripts holds (the prelude always). */
function usedBlocks(parts: readonly StepSpec[]): number[] {
  return SHARED_BLOCKS.map((_, i) => i).filter(
    (i) => i === 0 || parts.some((p) => p.script.includes(SHARED_BLOCKS[i]) || (p.deleteScript ?? "").includes(SHARED_BLOCKS[i])),
  );
}

/**
 * Bash that writes `text` (a script that holds the shared blocks as data, see sharedLibrary)
 * to `target`, each block's text taken from its variable in the running script instead of
 * carried a second time: here-documents for the text in between, printf for the blocks.
 */
function undoWriter(text: string, target: string, used: readonly number[]): string {
  const lines: string[] = [];
  let rest = text;
  for (const d of used.map((i) => SHARED_DEFINITIONS[i])) {
    const at = rest.indexOf(d.head + d.block + "\n" + d.tail);
    if (at < 0) throw new Error(`node-prep: the undo script does not hold ${d.variable}`);
    const before = rest.slice(0, at) + d.head;
    const marker = heredocMarker(before);
    lines.push(`cat <<'${marker}'\n${before}${marker}`, `printf '%s\\n' "$${d.variable}"`);
    rest = rest.slice(at + d.head.length + d.block.length + 1);
  }
  const marker = heredocMarker(rest);
  lines.push(`cat <<'${marker}'\n${rest}${marker}`);
  return `{\n${lines.join("\n")}\n} >${target}`;
}

/** Runs one part's script in its own bash; skipped when applied and unchanged. */
const PART_FUNCTIONS = `
# kop_part NAME SHA256 [FILE...] < script: runs the part unless it last succeeded with this
# script and each of its files still has a current applied record (see kop_put).
kop_part() {
  local name=$1 want=$2 record="${PARTS_DIR}/$1" body run=0 f rec
  shift 2
  body=$(kop_expand "$(cat)")
  if [ "$(cat "$record" 2>/dev/null)" != "$want" ]; then run=1; fi
  for f in "$@"; do
    rec=$(cat "$KOP_APPLIED$f" 2>/dev/null) || rec=""
    case "$rec" in ""|stale*) run=1 ;; esac
  done
  if [ "$run" = 0 ]; then kop_log "$name: applied, unchanged"; return 0; fi
  kop_log "$name: running"
  install -d -m 0700 "${PARTS_DIR}"
  rm -f "$record"
  bash -c "$body" || kop_fail "$name failed (exit $?): nothing after it ran; the next run starts again at $name"
  printf '%s\\n' "$want" >"$record"
}`.trim();

/** Undoes one part (its delete script); the record goes with it. */
const UNDO_FUNCTIONS = `
# kop_undo_part NAME < delete script
kop_undo_part() {
  local name=$1 body
  body=$(kop_expand "$(cat)")
  bash -c "$body" || kop_fail "undoing $name failed"
  rm -f "${PARTS_DIR}/$name"
}`.trim();

function partCall(step: StepSpec, which: "script" | "delete"): string {
  const raw = which === "script" ? step.script : step.deleteScript!;
  const compact = withoutSharedBlocks(raw);
  const text = compact.endsWith("\n") ? compact : compact + "\n";
  const marker = heredocMarker(text);
  const files = which === "script" ? step.files.map((f) => " " + shQuote(f.path)).join("") : "";
  // The hash is of the script as written: a change to a shared block re-runs the parts that use it.
  if (which === "script") return `kop_part ${shQuote(partName(step))} ${sha256(raw)}${files} <<'${marker}'\n${text}${marker}`;
  return `kop_undo_part ${shQuote(partName(step))} <<'${marker}'\n${text}${marker}`;
}

export function renderNodePrep(host: string, parts: readonly StepSpec[]): { script: string; deleteScript: string; undoScript: string } {
  const names = parts.map(partName).join(", ");
  const undoParts = [...parts].reverse().filter((p) => p.deleteScript);
  const used = usedBlocks(parts);
  const undoScript = [
    "#!/usr/bin/env bash",
    `# kubeadm-on-pulumi: undo the node preparation of ${host} (${[...parts].reverse().map(partName).join(", ")})`,
    "set -euo pipefail",
    sharedLibrary(used),
    UNDO_FUNCTIONS,
    ...undoParts.map((p) => partCall(p, "delete")),
    `rm -rf ${PARTS_DIR} ${UNDO_DIR}/node-prep.sh`,
    `rmdir ${UNDO_DIR} /var/lib/kubeadm-on-pulumi 2>/dev/null || true`,
    "",
  ].join("\n");
  const script = [
    "#!/usr/bin/env bash",
    `# kubeadm-on-pulumi: node preparation of ${host}: ${names}`,
    "set -euo pipefail",
    "export DEBIAN_FRONTEND=noninteractive LC_ALL=C",
    sharedLibrary(used),
    PART_FUNCTIONS,
    // First, the way back: if this run fails and Pulumi never records the step, the host still has it.
    `install -d -m 0700 ${UNDO_DIR}`,
    undoWriter(undoScript, `${UNDO_DIR}/node-prep.sh`, used),
    ...parts.map((p) => partCall(p, "script")),
    "",
  ].join("\n");
  // The delete runs the undo script the last run left on the host: the same text Pulumi would
  // otherwise keep a second copy of in every node-prep's state (and in the program's memory).
  const deleteScript = [
    "#!/usr/bin/env bash",
    `# kubeadm-on-pulumi: undo the node preparation of ${host} with the undo script its last run left there`,
    "set -euo pipefail",
    `if [ -f ${UNDO_DIR}/node-prep.sh ]; then exec bash ${UNDO_DIR}/node-prep.sh; fi`,
    `echo "kop: ${UNDO_DIR}/node-prep.sh is not there: node-prep never ran on ${host}, or was undone already" >&2`,
    "",
  ].join("\n");
  return { script, deleteScript, undoScript };
}

/**
 * The plan with each host's preparation chain as one node-prep step; every `needs` of a part
 * points at node-prep instead. Parts read no secrets and produce no output (checked).
 */
export function bundleNodePrep(plan: ClusterPlan): ClusterPlan {
  const partsOf = new Map<string, StepSpec[]>();
  for (const step of plan.steps) {
    if (!(NODE_PREP_PARTS as readonly string[]).includes(partName(step))) continue;
    if (step.secrets.length > 0 || step.output) throw new Error(`plan: ${step.id} reads secrets or produces output; node-prep parts cannot`);
    partsOf.set(step.host, [...(partsOf.get(step.host) ?? []), step]);
  }
  const bundleOf = new Map<string, string>();
  for (const [host, parts] of partsOf) for (const p of parts) bundleOf.set(p.id, nodePrepId(host));
  const steps: StepSpec[] = [];
  for (const step of plan.steps) {
    const bundle = bundleOf.get(step.id);
    if (bundle) {
      if (steps.some((s) => s.id === bundle)) continue;
      const parts = partsOf.get(step.host)!;
      const memberIds = new Set(parts.map((p) => p.id));
      const outside = parts.flatMap((p) => p.needs).filter((n) => !memberIds.has(n));
      if (outside.length > 0) throw new Error(`plan: ${bundle} would wait for ${outside.join(", ")}: node-prep parts must only need each other`);
      const rendered = renderNodePrep(step.host, parts);
      steps.push({
        id: bundle,
        host: step.host,
        layer: "hosts",
        description: `node preparation of ${step.host}: ${parts.map(partName).join(", ")} (each part re-runs only when it changed)`,
        script: rendered.script,
        deleteScript: rendered.deleteScript,
        files: parts.flatMap((p) => p.files),
        units: [...new Set(parts.flatMap((p) => p.units ?? []))],
        needs: [],
        secrets: [],
        timeouts: { create: "60m", update: "60m", delete: "30m" },
      });
      continue;
    }
    const needs = [...new Set(step.needs.map((n) => bundleOf.get(n) ?? n))];
    steps.push({ ...step, needs });
  }
  const bundled: ClusterPlan = { steps, outputSecrets: plan.outputSecrets };
  checkPlan(bundled);
  return bundled;
}
