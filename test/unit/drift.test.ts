import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { managedFileProvider, type ManagedFileInputs, type ManagedFileState } from "../../components/drift/managed-file";
import { managedUnitProvider, type ManagedUnitInputs, type ManagedUnitState } from "../../components/drift/managed-unit";
import { closeSshPool, sshPool } from "../../components/drift/ssh";
import { PRELUDE } from "../../components/remote/shell";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { closedPort, startFakeHost, type FakeHost } from "./drift-fake-host";

const provider = managedFileProvider as Required<typeof managedFileProvider>;
const units = managedUnitProvider as Required<typeof managedUnitProvider>;

let host: FakeHost;
beforeAll(async () => {
  host = await startFakeHost();
});
afterAll(async () => {
  await closeSshPool();
  await host.close();
});

function connection(over: Partial<ManagedFileInputs> = {}) {
  return { host: "lb1", address: host.address, port: host.port, user: "root", privateKey: host.privateKey, hostKey: host.hostKey, sudo: false, ...over };
}

function plainFile(name: string, content: string, over: Partial<ManagedFileInputs> = {}): ManagedFileInputs {
  return { ...connection(), path: path.join(host.root, name), mode: "0644", content, secret: false, ...over };
}

/** What a step does with the file: kop_put, then its reaction to "changed"; exit 0 commits the record. */
function runStep(file: string, content: string, mode = "0644"): "changed" | "unchanged" {
  const script = `set -euo pipefail\n${PRELUDE}\nif kop_put '${file}' ${mode} <<'EOF'; then echo changed; else echo unchanged; fi\n${content}EOF\n`;
  return host.sh(script).trim() as "changed" | "unchanged";
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("ManagedFile diff", () => {
  const olds = (over: Partial<ManagedFileState> = {}): ManagedFileState => ({
    ...connection(),
    path: "/etc/haproxy/haproxy.cfg",
    secret: false,
    mode: "0644",
    owner: "root:root",
    content: "a\n",
    contentHash: sha("a\n"),
    exists: true,
    declared: { mode: "0644", contentHash: sha("a\n"), owner: "root:root" },
    drift: [],
    revision: 1,
    ...over,
  });
  const news = (over: Partial<ManagedFileInputs> = {}): ManagedFileInputs => ({ ...connection(), path: "/etc/haproxy/haproxy.cfg", mode: "0644", content: "a\n", secret: false, ...over });

  it("sees no change when the host matches the declaration", async () => {
    expect(await provider.diff("id", olds(), news())).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });
  it("replaces on a path or host change", async () => {
    expect((await provider.diff("id", olds(), news({ path: "/etc/haproxy/other.cfg" }))).replaces).toEqual(["path"]);
    expect((await provider.diff("id", olds(), news({ host: "lb2" }))).replaces).toEqual(["host"]);
  });
  it("updates in place on a content, mode, owner or connection change", async () => {
    for (const change of [{ content: "b\n" }, { mode: "0600" }, { wantOwner: "haproxy:haproxy" }, { port: 2222 }, { privateKey: "other" }]) {
      const d = await provider.diff("id", olds(), news(change));
      expect(d, JSON.stringify(change)).toMatchObject({ changes: true, replaces: [] });
    }
  });
  it("updates when a refresh found drift or could not reach the host", async () => {
    expect(await provider.diff("id", olds({ drift: ["content differs from the declared file"] }), news())).toMatchObject({ changes: true, replaces: [] });
    expect(await provider.diff("id", olds({ unreachable: "no route" }), news())).toMatchObject({ changes: true, replaces: [] });
  });
  it("treats unknown content during preview as a change", async () => {
    expect(await provider.diff("id", olds(), news({ content: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" }))).toMatchObject({ changes: true });
  });
});

describe("ManagedFile against a host", () => {
  it("writes the declared file, reads it back clean, reports a hand edit and puts it back", async () => {
    const inputs = plainFile("haproxy.cfg", "global\n  maxconn 100\n");
    const created = await provider.create(inputs);
    expect(created.id).toBe(`lb1:${inputs.path}`);
    expect(fs.readFileSync(inputs.path, "utf8")).toBe(inputs.content);
    expect(created.outs).toMatchObject({ exists: true, mode: "0644", owner: "root:root", drift: [], revision: 1 });
    // The step that applies the file runs next: it reloads although the content is already there.
    expect(runStep(inputs.path, inputs.content!)).toBe("changed");
    expect(runStep(inputs.path, inputs.content!)).toBe("unchanged");

    let state = (await provider.read(created.id, created.outs)).props as ManagedFileState;
    expect(state.drift).toEqual([]);
    expect(state.content).toBe(inputs.content);

    host.sh(`printf 'global\\n  maxconn 1\\n' >${inputs.path}; chmod 600 ${inputs.path}`);
    state = (await provider.read(created.id, state)).props as ManagedFileState;
    expect(state.drift).toEqual(["content differs from the declared file", "mode 0600 (declared 0644)"]);
    expect(state.content).toBe("global\n  maxconn 1\n");
    expect(state.mode).toBe("0600");
    expect(await provider.diff(created.id, state, inputs)).toMatchObject({ changes: true, replaces: [] });

    const updated = (await provider.update(created.id, state, inputs)).outs as ManagedFileState;
    expect(updated).toMatchObject({ drift: [], revision: 2, mode: "0644", content: inputs.content });
    expect(fs.readFileSync(inputs.path, "utf8")).toBe(inputs.content);
    // The repair marked the record stale: the step's re-run reloads, once.
    expect(runStep(inputs.path, inputs.content!)).toBe("changed");
    expect(runStep(inputs.path, inputs.content!)).toBe("unchanged");
    state = (await provider.read(created.id, updated)).props as ManagedFileState;
    expect(state.drift).toEqual([]);
    expect(await provider.diff(created.id, state, inputs)).toMatchObject({ changes: false });
  });

  it("keeps the host's original file for the step's delete to restore", async () => {
    const inputs = plainFile("original.conf", "ours\n");
    fs.writeFileSync(inputs.path, "theirs\n");
    await provider.create(inputs);
    expect(fs.readFileSync(`${inputs.path}.kop-orig`, "utf8")).toBe("theirs\n");
    host.sh(`${PRELUDE}\nkop_restore '${inputs.path}'`);
    expect(fs.readFileSync(inputs.path, "utf8")).toBe("theirs\n");
  });

  it("reports a deleted file as missing, not as a deleted resource, and recreates it", async () => {
    const inputs = plainFile("gone.conf", "x\n");
    const created = await provider.create(inputs);
    fs.rmSync(inputs.path);
    const read = await provider.read(created.id, created.outs);
    expect(read.id).toBe(created.id);
    expect((read.props as ManagedFileState).drift).toEqual(["missing"]);
    const updated = (await provider.update(created.id, read.props as ManagedFileState, inputs)).outs as ManagedFileState;
    expect(updated).toMatchObject({ exists: true, drift: [], revision: 2 });
  });

  it("does not bump the revision when an update finds nothing to repair", async () => {
    const inputs = plainFile("steady.conf", "x\n");
    const created = await provider.create(inputs);
    runStep(inputs.path, "x\n");
    const updated = (await provider.update(created.id, created.outs, { ...inputs, port: host.port })).outs as ManagedFileState;
    expect(updated.revision).toBe(1);
  });

  it("reports a file whose step failed after the write as not applied", async () => {
    const inputs = plainFile("failed-step.conf", "x\n");
    const created = await provider.create(inputs);
    // No successful step run since the provider wrote the file: the record stays stale.
    const state = (await provider.read(created.id, created.outs)).props as ManagedFileState;
    expect(state.drift).toEqual(["written but not applied: its step has not succeeded since"]);
    const updated = (await provider.update(created.id, state, inputs)).outs as ManagedFileState;
    expect(updated.revision).toBe(2);
  });
});

describe("secret ManagedFile", () => {
  const password = "s3cr3t99";
  const content = `auth_pass ${password}\n`;
  const secretFile = (): ManagedFileInputs => ({ ...connection(), path: path.join(host.root, "vrrp-auth.conf"), mode: "0600", secret: true });
  const leaks = (value: unknown) => {
    const text = JSON.stringify(value);
    return [password, sha(content), sha(password), Buffer.from(content).toString("base64")].filter((s) => text.includes(s));
  };

  it("never keeps the content, its plain hash or its base64 in the state or a diff", async () => {
    const inputs = secretFile();
    const created = await provider.create(inputs); // before the step: nothing there yet
    expect(created.outs).toMatchObject({ exists: false, drift: [], revision: 1 });
    expect(runStep(inputs.path, content, "0600")).toBe("changed");

    let state = (await provider.read(created.id, created.outs)).props as ManagedFileState;
    expect(state).toMatchObject({ exists: true, drift: [] });
    expect(state.contentHash).toBeUndefined();
    expect(leaks(state)).toEqual([]);

    host.sh(`printf 'auth_pass guessme\\n' >${inputs.path}; chmod 644 ${inputs.path}`);
    state = (await provider.read(created.id, state)).props as ManagedFileState;
    expect(state.drift).toEqual(["content differs from what the last successful apply wrote", "mode 0644 (declared 0600)"]);
    expect(state.contentHash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(state.contentHash).not.toContain(sha("auth_pass guessme\n"));
    expect(state.salt).toMatch(/^[0-9a-f]{64}$/);
    const diff = await provider.diff(created.id, state, inputs);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    expect(leaks(diff)).toEqual([]);

    // up: mode put back here, the content by the step, which the bumped revision re-runs.
    const updated = (await provider.update(created.id, state, inputs)).outs as ManagedFileState;
    expect(updated.revision).toBe(2);
    expect(fs.statSync(inputs.path).mode & 0o777).toBe(0o600);
    expect(runStep(inputs.path, content, "0600")).toBe("changed");
    state = (await provider.read(created.id, updated)).props as ManagedFileState;
    expect(state.drift).toEqual([]);
    expect(leaks([created, updated, state])).toEqual([]);
  });

  it("checks the owner against the one the last apply left (a step may chown after kop_put)", async () => {
    const inputs = { ...secretFile(), path: path.join(host.root, "peer.key") };
    const created = await provider.create(inputs);
    runStep(inputs.path, "KEY\n", "0600");
    host.sh(`chown nobody:nogroup ${inputs.path}`);
    const state = (await provider.read(created.id, created.outs)).props as ManagedFileState;
    expect(state.drift).toEqual(["owner nobody:nogroup (applied root:root)"]);
  });

  it("refuses declared content for a secret file", async () => {
    const result = await provider.check({} as ManagedFileInputs, { ...secretFile(), content: password });
    expect(result.failures).toEqual([{ property: "content", reason: expect.stringContaining("stays out of the state") }]);
    expect(leaks(result.failures)).toEqual([]);
  });
});

describe("an unreachable host", () => {
  it("keeps the last known state with an unreachable marker on refresh, and up re-checks it", async () => {
    const inputs = plainFile("reachable.conf", "x\n");
    const created = await provider.create(inputs);
    const gone = { ...(created.outs as ManagedFileState), port: await closedPort() };
    const read = await provider.read(created.id, gone);
    expect(read.id).toBe(created.id);
    expect(read.props).toMatchObject({ ...gone, unreachable: expect.stringMatching(/is unreachable: .*ECONNREFUSED/) });
    expect(await provider.diff(created.id, read.props as ManagedFileState, inputs)).toMatchObject({ changes: true, replaces: [] });

    const unit = { ...unitInputs("gone"), port: gone.port } as ManagedUnitState;
    expect((await units.read("lb1:gone", unit)).props).toMatchObject({ unreachable: expect.stringContaining("unreachable") });
  });

  it("refuses a host presenting another host key", async () => {
    const other = await startFakeHost();
    try {
      const inputs = plainFile("pinned.conf", "x\n", { port: other.port });
      await expect(provider.create(inputs)).rejects.toThrow(/unreachable/);
    } finally {
      await other.close();
    }
  });
});

function unitInputs(unit: string): ManagedUnitInputs {
  return { ...connection(), unit, enabled: true, active: true };
}

describe("ManagedUnit", () => {
  it("starts the unit, reports a hand stop and starts it again", async () => {
    host.sh(`touch $FAKE_UNITS/containerd.exists`);
    const inputs = unitInputs("containerd");
    const created = await units.create(inputs);
    expect(created.outs).toMatchObject({ enabled: true, active: true, drift: [] });
    host.sh(`systemctl stop containerd`);
    const state = (await units.read(created.id, created.outs)).props as ManagedUnitState;
    expect(state).toMatchObject({ active: false, activeState: "inactive", drift: ["inactive (declared active)"] });
    expect(await units.diff(created.id, state, inputs)).toMatchObject({ changes: true, replaces: [] });
    // A second refresh still reports it (the declaration is kept apart from the live values).
    expect(((await units.read(created.id, state)).props as ManagedUnitState).drift).toEqual(["inactive (declared active)"]);
    const updated = (await units.update(created.id, state, inputs)).outs as ManagedUnitState;
    expect(updated).toMatchObject({ active: true, drift: [] });
    expect(await units.diff(created.id, updated, inputs)).toMatchObject({ changes: false });
  });

  it("replaces on a unit or host change", async () => {
    const state = { ...unitInputs("haproxy"), declaredEnabled: true, declaredActive: true, loadState: "loaded", enabledState: "enabled", activeState: "active", drift: [] };
    expect((await units.diff("x", state, unitInputs("keepalived"))).replaces).toEqual(["unit"]);
    expect((await units.diff("x", state, { ...unitInputs("haproxy"), host: "lb2" })).replaces).toEqual(["host"]);
  });

  it("fails an update when the unit does not come up, with its status", async () => {
    host.sh(`touch $FAKE_UNITS/etcd.exists $FAKE_UNITS/etcd.broken`);
    await expect(units.create(unitInputs("etcd"))).rejects.toThrow(/etcd/);
  });
});

describe("connection pool", () => {
  it("runs every resource on one host over one SSH connection", async () => {
    const other = await startFakeHost();
    try {
      other.sh(`touch $FAKE_UNITS/haproxy.exists`);
      const on = { address: other.address, port: other.port, privateKey: other.privateKey, hostKey: other.hostKey };
      const dialsBefore = sshPool().dials;
      const file = await provider.create({ ...plainFile("x", "x\n"), ...on, path: path.join(other.root, "haproxy.cfg") });
      const unit = await units.create({ ...unitInputs("haproxy"), ...on });
      await Promise.all([
        ...Array.from({ length: 6 }, () => provider.read(file.id, file.outs)),
        ...Array.from({ length: 6 }, () => units.read(unit.id, unit.outs)),
      ]);
      expect(other.connections()).toBe(1);
      expect(sshPool().dials - dialsBefore).toBe(1);
      expect(other.commands().length).toBeGreaterThanOrEqual(14);
    } finally {
      await closeSshPool();
      await other.close();
    }
  });

  it("dials again after the host dropped the connection", async () => {
    const inputs = plainFile("redial.conf", "x\n");
    const created = await provider.create(inputs);
    await closeSshPool();
    const read = await provider.read(created.id, created.outs);
    expect((read.props as ManagedFileState).unreachable).toBeUndefined();
  });
});

describe("the providers as the engine runs them", () => {
  it("serialize, load in a fresh process, and share one connection per host across both resource kinds", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-drift-serialized-"));
    const other = await startFakeHost();
    try {
      other.sh(`touch $FAKE_UNITS/keepalived.exists`);
      // What pulumi.dynamic.Resource stores in __provider, loaded the way the provider process loads it.
      for (const [name, p] of [["file", managedFileProvider], ["unit", managedUnitProvider]] as const) {
        const serialized = await pulumi.runtime.serializeFunction(() => p, { allowSecrets: true });
        fs.writeFileSync(path.join(dir, `${name}.js`), serialized.text);
      }
      const on = { host: "lb1", address: other.address, port: other.port, user: "root", privateKey: other.privateKey, hostKey: other.hostKey, sudo: false };
      const program = `
        const load = (f) => require(${JSON.stringify(require.resolve("require-from-string", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] }))})(require("fs").readFileSync(f, "utf8")).handler();
        (async () => {
          const files = load(${JSON.stringify(path.join(dir, "file.js"))});
          const units = load(${JSON.stringify(path.join(dir, "unit.js"))});
          const on = ${JSON.stringify(on)};
          const f = await files.create({ ...on, path: ${JSON.stringify(path.join(other.root, "keepalived.conf"))}, mode: "0644", content: "x\\n", secret: false });
          const u = await units.create({ ...on, unit: "keepalived", enabled: true, active: true });
          const reads = await Promise.all([files.read(f.id, f.outs), units.read(u.id, u.outs)]);
          const pool = globalThis[Symbol.for("kubeadm-on-pulumi.drift.ssh-pool")];
          console.log(JSON.stringify({ dials: pool.dials, drift: reads.map((r) => r.props.drift) }));
          process.exit(0);
        })().catch((e) => { console.error(e); process.exit(1); });`;
      const stdout = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ["-e", program], { cwd: path.join(__dirname, "..", ".."), timeout: 60_000 }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out))),
      );
      const result = JSON.parse(stdout.trim().split("\n").pop()!);
      expect(result).toEqual({ dials: 1, drift: [["written but not applied: its step has not succeeded since"], []] });
      expect(other.connections()).toBe(1);
    } finally {
      await other.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("what the provider process sends back", () => {
  it("is a valid protobuf Struct (no undefined anywhere), and a refresh's inputs are the live view without the key", async () => {
    const inputs = plainFile("struct.conf", "x\n");
    const created = await provider.create(inputs);
    expect(() => Struct.fromJavaScript(created.outs)).not.toThrow();
    host.sh(`echo y >${inputs.path}`);
    const read = await provider.read(created.id, created.outs);
    expect(() => Struct.fromJavaScript(read.props as never)).not.toThrow();
    expect(read.inputs).toMatchObject({ content: "y\n", drift: ["content differs from the declared file"], path: inputs.path });
    expect(read.inputs).not.toHaveProperty("privateKey");
    expect(read.inputs).not.toHaveProperty("revision");
    host.sh(`touch $FAKE_UNITS/kubelet.exists`);
    const unit = await units.create(unitInputs("kubelet"));
    const unitRead = await units.read(unit.id, unit.outs);
    expect(() => Struct.fromJavaScript(unitRead.props as never)).not.toThrow();
    expect(unitRead.inputs).toMatchObject({ unit: "kubelet", active: true, drift: [] });
    expect(unitRead.inputs).not.toHaveProperty("privateKey");
  });
});
