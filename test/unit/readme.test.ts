import * as fs from "node:fs";
import * as path from "node:path";
import type { z } from "zod";
import { describe, expect, it } from "vitest";
import { stackConfigSchema } from "../../components/config";

/** The README's configuration table must list every key with the default the schema really has. */

const README = fs.readFileSync(path.resolve(__dirname, "..", "..", "README.md"), "utf8");
const section = README.slice(README.indexOf("## Configuration"), README.indexOf("\n## ", README.indexOf("## Configuration") + 5));
const rows = section
  .split("\n")
  .filter((l) => l.startsWith("| `cluster:"))
  .map((l) => {
    const [key, def] = l.split(" | ").map((c) => c.replace(/^\| /, "").trim());
    return { key: key.replace(/`/g, "").slice("cluster:".length), def };
  });

const minimal = () => ({
  kubernetes: { version: "1.29.13" },
  hosts: [{ name: "cp1", address: "10.0.0.11", roles: ["control-plane"] }],
});

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  for (;;) {
    const def = schema._zod.def as { type: string; innerType?: z.core.$ZodType };
    if (!["default", "prefault", "optional"].includes(def.type) || !def.innerType) return schema;
    schema = def.innerType;
  }
}

/** Every key of the schema below `cluster:` (objects opened, arrays of objects as `name[].`), addons aside. */
function leafKeys(schema: z.core.$ZodType, prefix: string): string[] {
  const def = unwrap(schema)._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
  if (def.type === "object" && def.shape) {
    return Object.entries(def.shape).flatMap(([k, v]) => (prefix === "" && k === "addons" ? ["addons"] : leafKeys(v, prefix ? `${prefix}.${k}` : k)));
  }
  if (def.type === "array" && def.element && (unwrap(def.element)._zod.def as { type: string }).type === "object") {
    return [prefix, ...leafKeys(def.element, `${prefix}[]`)];
  }
  return [prefix];
}

function valueAt(config: unknown, key: string): unknown {
  return key.split(/\.|(?=\[\])/).reduce<unknown>((v, part) => {
    if (v === undefined || v === null) return undefined;
    if (part === "[]") return (v as unknown[])[0];
    return (v as Record<string, unknown>)[part.replace(/^\[\]\.?/, "")];
  }, config);
}

describe("README configuration table", () => {
  it("lists every key of the config schema (a row for the key or for the object holding it)", () => {
    const listed = new Set(rows.map((r) => r.key));
    const missing = leafKeys(stackConfigSchema, "").filter((k) => ![...listed].some((l) => k === l || k.startsWith(`${l}.`) || k.startsWith(`${l}[]`)));
    expect(missing).toEqual([]);
    expect(rows.length).toBeGreaterThan(60);
  });

  it("states each default as the schema has it: a literal, – for unset, prose for values derived later", () => {
    const parsed = stackConfigSchema.parse(minimal());
    for (const { key, def } of rows) {
      if (key === "addons") continue;
      const value = valueAt(parsed, key);
      if (def === "(required)") {
        expect(value, key).toBeDefined();
        continue;
      }
      const literal = /^`([^`<]*)`$/.exec(def)?.[1];
      if (literal === undefined) {
        expect(value, `${key}: "${def}" describes a derived default, so the schema must leave it unset`).toBeUndefined();
      } else {
        const shown = typeof value === "string" ? value : JSON.stringify(value);
        expect(shown, key).toBe(literal);
      }
    }
  });
});
