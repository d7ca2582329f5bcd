/**
 * Secrets in an exported Pulumi state: every value the state holds as a secret (read from
 * `pulumi stack export --show-secrets`), and where any of them shows in the plain export
 * (`pulumi stack export`) as it is, base64- or hex-encoded.
 */
const SIG = "4dabf18193072939515e22adb298388d";
/** Shorter values would match by chance (a 6-letter token id inside a hex digest); they are checked as part of longer ones. */
export const MIN_SECRET_LENGTH = 8;

/** Fields of a secret object (a step's connection) that are public by nature: where and as whom to connect, the host's public key. */
const PUBLIC_FIELDS = new Set(["host", "address", "port", "user", "hostKey", "dialErrorLimit", "perDialTimeout"]);
/** A step's secret line on stdin (components/remote/shell.ts secretLines): NAME=base64. */
const SECRET_LINE = /^[A-Za-z_][A-Za-z0-9_]*=([A-Za-z0-9+/]+=*)$/;
/** A line of key material: base64 without spaces (PEM bodies, *-data values). */
const MATERIAL_LINE = /^[A-Za-z0-9+/]{16,}=*$/;

/**
 * Every secret value of a `--show-secrets` export, as strings: each string leaf of each secret
 * (nested secrets included; connection fields that are public left out). A multi-line secret (a
 * kubeconfig, a key, a step's stdin: its scripts then its secret lines) counts whole, and so does
 * its key material: the decoded value of each NAME=base64 secret line, each base64 line, each
 * `…-data:`, `token:`, `password:` or `key:` value. Its other lines (script text) are not secrets.
 */
export function secretValues(shown: unknown): string[] {
  const found = new Set<string>();
  const keep = (piece: string) => {
    if (piece.length >= MIN_SECRET_LENGTH && !piece.startsWith("-----")) found.add(piece);
  };
  const add = (s: string): void => {
    keep(s);
    if (!s.includes("\n")) return;
    for (const line of s.split("\n").map((l) => l.trim())) {
      const secretLine = SECRET_LINE.exec(line);
      if (secretLine && Buffer.from(secretLine[1], "base64").toString("base64") === secretLine[1]) add(Buffer.from(secretLine[1], "base64").toString("utf8"));
      else if (MATERIAL_LINE.test(line)) keep(line);
    }
    // (A placeholder the script fills in, an identifier such as KOP_SECRET_bootstrap_token, is not a value: base64 has no "_".)
    for (const m of s.matchAll(/(?:-data|token|password|key):\s*"?([A-Za-z0-9+/=._:-]+)/gi)) if (!/^[A-Za-z]+(_[A-Za-z0-9]+)+$/.test(m[1])) keep(m[1]);
  };
  const leaves = (v: unknown, key?: string): void => {
    if (typeof v === "string") {
      if (!key || !PUBLIC_FIELDS.has(key)) add(v);
    } else if (Array.isArray(v)) v.forEach((x) => leaves(x));
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (SIG in o && typeof o.plaintext === "string") return leaves(JSON.parse(o.plaintext), key);
      for (const [k, x] of Object.entries(o)) leaves(x, k);
    }
  };
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    if (SIG in o && typeof o.plaintext === "string") {
      leaves(JSON.parse(o.plaintext));
      return;
    }
    Object.values(o).forEach(walk);
  };
  walk(shown);
  return [...found];
}

/** The forms of a secret a careless program or provider could leave in the state. */
export function encodings(secret: string): Array<{ form: string; text: string }> {
  const bytes = Buffer.from(secret, "utf8");
  const all = [
    { form: "plain text", text: secret },
    { form: "base64", text: bytes.toString("base64").replace(/=+$/, "") },
    { form: "base64url", text: bytes.toString("base64url") },
    { form: "hex", text: bytes.toString("hex") },
    // A hex secret (kubeadm's certificate key) as the bytes it stands for, base64-encoded: RandomBytes' id.
    ...(/^([0-9a-f]{2})+$/i.test(secret) ? [{ form: "base64 of its hex bytes", text: Buffer.from(secret, "hex").toString("base64").replace(/=+$/, "") }] : []),
  ];
  return all.filter((e, i) => all.findIndex((x) => x.text === e.text) === i);
}

/** Where secrets show in the plain export: "form of secret (first 4 chars…) at ...context". */
export function leaks(plainExport: string, secrets: readonly string[]): string[] {
  const out: string[] = [];
  for (const secret of secrets) {
    for (const { form, text } of encodings(secret)) {
      const at = plainExport.indexOf(text);
      if (at >= 0) out.push(`${form} of a secret (${secret.slice(0, 4)}…, ${secret.length} chars) at …${plainExport.slice(Math.max(0, at - 80), at).replace(/\s+/g, " ")}`);
    }
  }
  return out;
}
