/**
 * The engine tier's test doubles and its state-secrets check, without the engine: Go's %q
 * quoting of a failed command, the diff rules, the random values, and that a secret is found
 * in each form, including the id a RandomBytes resource would have.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { commandDouble } from "../engine/doubles/command-double";
import { goQuote } from "../engine/doubles/go-quote";
import { password, randomDouble, BYTES_TYPE, PASSWORD_TYPE } from "../engine/doubles/random-double";
import { secret, UNKNOWN } from "../engine/doubles/wire";
import { leaks, secretValues } from "../engine/state-secrets";

const urn = (type: string, name: string) => `urn:pulumi:engine::kop::kop:cluster:Cluster$${type}::${name}`;

describe("goQuote (the command provider's %q)", () => {
  it("escapes like Go's strconv.Quote", () => {
    expect(goQuote('bash -c \'echo "a\\b"\'\n\tx')).toBe('"bash -c \'echo \\"a\\\\b\\"\'\\n\\tx"');
    expect(goQuote("\x01\x7f\x1b")).toBe('"\\x01\\x7f\\x1b"');
    expect(goQuote("é–€\u2028")).toBe('"é–€\\u2028"');
  });
});

describe("command double", () => {
  const base = { connection: secret({ host: "h", privateKey: "k" }), create: "a", delete: "b", stdin: secret("s"), addPreviousOutputInEnv: false };
  it("an unchanged step has no diff; outputs of the last run do not count", async () => {
    expect(await commandDouble.diff("id", urn("command:remote:Command", "x"), { ...base, stdout: "o", stderr: "e" }, base)).toEqual({ changes: false, replaces: [] });
  });
  it("a changed command, stdin or connection is an in-place update; triggers replace", async () => {
    const u = urn("command:remote:Command", "x");
    expect(await commandDouble.diff("id", u, base, { ...base, create: "c" })).toEqual({ changes: true, replaces: [] });
    expect(await commandDouble.diff("id", u, base, { ...base, stdin: secret("t") })).toEqual({ changes: true, replaces: [] });
    expect(await commandDouble.diff("id", u, base, { ...base, create: UNKNOWN })).toEqual({ changes: true, replaces: [] });
    expect(await commandDouble.diff("id", u, base, { ...base, triggers: ["1"] })).toEqual({ changes: true, replaces: ["triggers"] });
  });
});

describe("random double", () => {
  it("passwords honour the character sets and minimums", () => {
    for (let i = 0; i < 50; i++) {
      const token = password({ length: 16, upper: false, lower: true, numeric: true, special: false, minUpper: 0, minLower: 0, minNumeric: 0, minSpecial: 0 });
      expect(token).toMatch(/^[a-z0-9]{16}$/);
      const hex = password({ length: 64, upper: false, lower: false, numeric: true, special: true, overrideSpecial: "abcdef", minUpper: 0, minLower: 0, minNumeric: 0, minSpecial: 0 });
      expect(hex).toMatch(/^[0-9a-f]{64}$/);
      expect(password({ length: 4, upper: true, lower: false, numeric: true, special: false, minUpper: 2, minNumeric: 2, minLower: 0, minSpecial: 0 })).toMatch(/^(?=(.*[A-Z]){2})(?=(.*\d){2})[A-Z0-9]{4}$/);
    }
  });
  it("RandomPassword has the id 'none'; RandomBytes has its base64 value as id, as the real provider", async () => {
    const p = await randomDouble.create(urn(PASSWORD_TYPE, "pw"), (await randomDouble.check(urn(PASSWORD_TYPE, "pw"), {}, { length: 8, special: false })).inputs);
    expect(p.id).toBe("none");
    expect(p.outs.result).toMatch(/^[A-Za-z0-9]{8}$/);
    const b = await randomDouble.create(urn(BYTES_TYPE, "b"), { length: 32 });
    expect(b.id).toBe(b.outs.base64);
    expect(Buffer.from(String(b.outs.hex), "hex").toString("base64")).toBe(b.outs.base64);
  });
  it("every input change replaces", async () => {
    expect(await randomDouble.diff("none", urn(PASSWORD_TYPE, "pw"), { length: 8, keepers: { g: "0" }, result: "x" }, { length: 8, keepers: { g: "1" } })).toEqual({ changes: true, replaces: ["keepers"], deleteBeforeReplace: false });
  });
});

describe("state secrets check", () => {
  const SIG = "4dabf18193072939515e22adb298388d";
  const shown = (value: unknown) => ({ deployment: { resources: [{ outputs: { v: { [SIG]: "1b47061264138c4ac30d75fd1eb44270", plaintext: JSON.stringify(value) } } }] } });
  it("finds each secret value, and the lines and keys of a multi-line one", () => {
    const values = secretValues(shown({ result: "abcdefgh12", kubeconfig: "users:\n- user:\n    client-key-data: QUJDREVGR0hJSktMTU5PUA==\n" }));
    expect(values).toContain("abcdefgh12");
    expect(values).toContain("QUJDREVGR0hJSktMTU5PUA==");
  });
  it("takes a step's stdin by its secret lines, not its script lines; a connection by its key, not its address", () => {
    const stdin = `#!/usr/bin/env bash\nset -euo pipefail\nbootstrap_token=${Buffer.from("abcdef.0123456789abcdef").toString("base64")}\n`;
    const values = secretValues(shown({ stdin, connection: { host: "10.213.0.11", user: "root", privateKey: "-----BEGIN KEY-----\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldY\n-----END KEY-----\n" } }));
    expect(values).toContain("abcdef.0123456789abcdef");
    expect(values).toContain("QUJDREVGR0hJSktMTU5PUFFSU1RVVldY");
    expect(values).not.toContain("#!/usr/bin/env bash");
    expect(values).not.toContain("set -euo pipefail");
    expect(values).not.toContain("10.213.0.11");
    expect(secretValues(shown({ config: "discovery:\n  bootstrapToken:\n    token: KOP_SECRET_bootstrap_token\n    key: c2VjcmV0a2V5bWF0ZXJpYWw=\n" }))).toEqual([
      "discovery:\n  bootstrapToken:\n    token: KOP_SECRET_bootstrap_token\n    key: c2VjcmV0a2V5bWF0ZXJpYWw=\n",
      "c2VjcmV0a2V5bWF0ZXJpYWw=",
    ]);
  });
  it("reads a secret nested in a secret", () => {
    const inner = { [SIG]: "1b47061264138c4ac30d75fd1eb44270", plaintext: JSON.stringify("innersecret42") };
    const values = secretValues(shown({ kubeconfig: inner }));
    expect(values).toEqual(["innersecret42"]);
  });
  it("reports a secret in plain text, base64 or hex, and a hex key kept as a RandomBytes id", () => {
    const key = randomBytes(32);
    const hex = key.toString("hex");
    expect(leaks(`"id": "${key.toString("base64")}"`, [hex])).toHaveLength(1);
    expect(leaks(`"x": "${Buffer.from("s3cretpassword").toString("base64")}"`, ["s3cretpassword"])).toHaveLength(1);
    expect(leaks(`"x": "${Buffer.from("s3cretpassword").toString("hex")}"`, ["s3cretpassword"])).toHaveLength(1);
    expect(leaks(`{"ciphertext": "v1:abc"}`, ["s3cretpassword", hex])).toEqual([]);
  });
});
