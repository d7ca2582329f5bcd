/**
 * Secrets in an exported Pulumi state: every value the state holds as a secret (read from
 * `pulumi stack export --show-secrets`), and where any of them shows in the plain export
 * (`pulumi stack export`) as it is, base64- or hex-encoded.
 */
const SIG = "4dabf18193072939515e22adb298388d";
/** Shorter values would match by chance (a 6-letter token id inside a hex digest); they are checked as part of longer ones. */
export const MIN_SECRET_LENGTH = 8;

/** Every secret value of a `--show-secrets` export, as strings: each string leaf of each secret, and each long line of a multi-line one. */
export function secretValues(shown: unknown): string[] {
  const found = new Set<string>();
  const leaves = (v: unknown, into: (s: string) => void) => {
    if (typeof v === "string") into(v);
    else if (typeof v === "number" || typeof v === "boolean") return;
    else if (Array.isArray(v)) v.forEach((x) => leaves(x, into));
    else if (v && typeof v === "object") Object.values(v).forEach((x) => leaves(x, into));
  };
  const add = (s: string) => {
    for (const piece of [s, ...s.split("\n").map((l) => l.trim()), ...[...s.matchAll(/(?:-data|token|password|key):\s*"?([^\s"]+)/gi)].map((m) => m[1])]) {
      if (piece.length >= MIN_SECRET_LENGTH && !piece.startsWith("-----")) found.add(piece);
    }
  };
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    if (SIG in o && typeof o.plaintext === "string") {
      leaves(JSON.parse(o.plaintext), add);
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
