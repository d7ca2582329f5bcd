/**
 * One managed unit: a systemd unit a step starts (containerd, haproxy, keepalived, etcd,
 * kubelet), read back on `pulumi refresh` (enabled? active?) and put back by `pulumi up` with
 * systemctl enable / start, without re-running the step. The cluster lists them on a host's
 * first ManagedFiles (grouped.ts), which hands each entry to this provider.
 */
import * as pulumi from "@pulumi/pulumi";
import { changedConnectionKeys, shellQuote, targetOf, type ConnectionProps, withoutUndefined } from "./common";
import { refreshOrKeep } from "./refresh";
import { sshCheck } from "./ssh";

export interface ManagedUnitInputs extends ConnectionProps {
  unit: string;
  enabled: boolean;
  active: boolean;
}

export interface ManagedUnitState extends ManagedUnitInputs {
  /** What the program declared: `enabled`/`active` hold the live values once read. */
  declaredEnabled: boolean;
  declaredActive: boolean;
  /** systemctl's words: LoadState, UnitFileState (is-enabled) and ActiveState (is-active). */
  loadState: string;
  enabledState: string;
  activeState: string;
  drift: string[];
  unreachable?: string;
}

/** is-enabled answers that count as enabled: a static or generated unit cannot be enabled and needs not be. */
const ENABLED_STATES = ["enabled", "enabled-runtime", "static", "alias", "indirect", "generated"];
const ACTIVE_STATES = ["active", "reloading"];
/** The properties the program declares (see ManagedUnit), plus the refresh's marker. */
const UNIT_INPUT_KEYS = ["host", "address", "port", "user", "hostKey", "sudo", "unit", "enabled", "active", "declaredEnabled", "declaredActive", "drift", "unreachable"];

export function readUnitScript(unit: string): string {
  const u = shellQuote(unit);
  return [
    `load=$(systemctl show -p LoadState --value ${u} 2>/dev/null || true)`,
    `enabled=$(systemctl is-enabled ${u} 2>/dev/null || true)`,
    `active=$(systemctl is-active ${u} 2>/dev/null || true)`,
    `printf '%s %s %s\\n' "\${load:-unknown}" "\${enabled:-unknown}" "\${active:-unknown}"`,
  ].join("\n");
}

/** Enables/starts (or disables/stops) the unit where it differs, then waits for the wanted state. */
export function applyUnitScript(unit: string, enabled: boolean, active: boolean): string {
  const u = shellQuote(unit);
  const lines = ["set -euo pipefail"];
  lines.push(
    enabled
      ? `case "$(systemctl is-enabled ${u} 2>/dev/null || true)" in ${ENABLED_STATES.join("|")}) ;; *) systemctl enable ${u} ;; esac`
      : `if systemctl is-enabled --quiet ${u} 2>/dev/null; then systemctl disable ${u}; fi`,
  );
  if (active) {
    lines.push(
      `if ! systemctl is-active --quiet ${u}; then systemctl reset-failed ${u} 2>/dev/null || true; systemctl start ${u}; fi`,
      `for _ in $(seq 1 20); do systemctl is-active --quiet ${u} && exit 0; sleep 0.5; done`,
      `echo "${unit} did not become active: $(systemctl status ${u} --no-pager 2>&1 | tail -n 8)" >&2`,
      "exit 1",
    );
  } else {
    lines.push(`if systemctl is-active --quiet ${u}; then systemctl stop ${u}; fi`);
  }
  return lines.join("\n");
}

export function unitDrift(want: { enabled: boolean; active: boolean }, live: { loadState: string; enabledState: string; activeState: string }): string[] {
  if (live.loadState === "not-found") return ["unit not found"];
  const drift: string[] = [];
  const enabled = ENABLED_STATES.includes(live.enabledState);
  const active = ACTIVE_STATES.includes(live.activeState);
  if (enabled !== want.enabled) drift.push(`${live.enabledState} (declared ${want.enabled ? "enabled" : "disabled"})`);
  if (active !== want.active) drift.push(`${live.activeState} (declared ${want.active ? "active" : "inactive"})`);
  return drift;
}

async function readLive(props: ManagedUnitInputs): Promise<Pick<ManagedUnitState, "loadState" | "enabledState" | "activeState">> {
  const out = (await sshCheck(targetOf(props), readUnitScript(props.unit), `reading unit ${props.unit}`)).trim();
  const [loadState, enabledState, activeState] = out.split(" ");
  if (!activeState) throw new Error(`unexpected answer from systemctl on ${props.host}: ${out}`);
  return { loadState, enabledState, activeState };
}

/** `want` is what the program declared; the unit's `enabled`/`active` outputs are the live values. */
function stateOf(
  inputs: ConnectionProps & { unit: string },
  want: { enabled: boolean; active: boolean },
  live: Pick<ManagedUnitState, "loadState" | "enabledState" | "activeState">,
): ManagedUnitState {
  const drift = unitDrift(want, live);
  return {
    host: inputs.host,
    address: inputs.address,
    port: inputs.port,
    user: inputs.user,
    privateKey: inputs.privateKey,
    hostKey: inputs.hostKey,
    sudo: inputs.sudo,
    unit: inputs.unit,
    // Live values: a refresh shows `active: true => false`, a preview the way back.
    enabled: live.loadState !== "not-found" && ENABLED_STATES.includes(live.enabledState),
    active: ACTIVE_STATES.includes(live.activeState),
    declaredEnabled: want.enabled,
    declaredActive: want.active,
    ...live,
    drift,
  };
}

async function converge(inputs: ManagedUnitInputs): Promise<ManagedUnitState> {
  await sshCheck(targetOf(inputs), applyUnitScript(inputs.unit, inputs.enabled, inputs.active), `${inputs.active ? "starting" : "stopping"} ${inputs.unit}`);
  return stateOf(inputs, inputs, await readLive(inputs));
}

export const managedUnitProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: ManagedUnitInputs, news: ManagedUnitInputs) {
    const failures = /^[A-Za-z0-9:_.@\\-]+$/.test(news.unit ?? "") ? [] : [{ property: "unit", reason: `not a systemd unit name: ${news.unit}` }];
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: ManagedUnitState, news: ManagedUnitInputs) {
    const replaces = (["host", "unit"] as const).filter((k) => olds[k] !== news[k]);
    const changed = [
      ...changedConnectionKeys(olds, news),
      ...(olds.enabled !== news.enabled ? ["enabled"] : []),
      ...(olds.active !== news.active ? ["active"] : []),
      ...((olds.drift ?? []).length > 0 ? ["drift"] : []),
      ...(olds.unreachable ? ["unreachable"] : []),
    ];
    return { changes: replaces.length + changed.length > 0, replaces, deleteBeforeReplace: false };
  },

  async create(inputs: ManagedUnitInputs) {
    return { id: `${inputs.host}:${inputs.unit}`, outs: withoutUndefined(await converge(inputs)) };
  },

  async read(id: string, props: ManagedUnitState) {
    const want = { enabled: props.declaredEnabled ?? props.enabled, active: props.declaredActive ?? props.active };
    return refreshOrKeep(id, props, UNIT_INPUT_KEYS, async () => stateOf(props, want, await readLive(props)));
  },

  async update(_id: string, _olds: ManagedUnitState, news: ManagedUnitInputs) {
    return { outs: withoutUndefined(await converge(news)) };
  },

  // The step's delete script stops and disables what it started.
  async delete() {},
};
