import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Single-quotes a word for bash. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A file a step places on a host. */
export interface RenderedFile {
  path: string;
  content: string;
  /** Octal mode, e.g. "0644". */
  mode: string;
  /** Content is a secret: it arrives on stdin and never appears in the script. */
  secret?: { name: string };
}

/**
 * A shell function library as scripts carry it: its comment-only and blank lines left out (the
 * source files keep them as documentation). Every script repeats its libraries, and at 1000
 * workers that text is a large part of the program's memory. Safe only where such lines cannot
 * belong to a here-document or a multi-line string: a library with a here-document is refused,
 * and test/unit/library-text.test.ts checks that bash reads each library as before. `#!` lines and
 * `# shellcheck` directives stay.
 */
export function libraryText(source: string): string {
  if (/(?<!<)<<(?!<)/.test(source)) throw new Error("libraryText: the library has a here-document, whose lines are content, not comments");
  const kept = source.split("\n").filter((line) => {
    const text = line.trim();
    return text !== "" && (!text.startsWith("#") || text.startsWith("#!") || /^#\s*shellcheck\s/.test(text));
  });
  return kept.join("\n") + "\n";
}

/** Shell functions every generated script starts with (prelude.sh, as libraryText carries it). */
export const PRELUDE = libraryText(fs.readFileSync(path.join(__dirname, "prelude.sh"), "utf8"));

/** Heredoc delimiter that cannot occur in the content. */
export function heredocMarker(content: string): string {
  let marker = `KOP_EOF_${sha256(content).slice(0, 8)}`;
  while (content.split("\n").includes(marker)) marker += "_";
  return marker;
}

/** Bash that writes a file with kop_put; `onChange` runs only when the content changed. */
export function putFile(file: RenderedFile, onChange = ":"): string {
  if (file.secret) {
    const variable = `SECRET_${file.secret.name}`;
    return `if printf '%s' "$${variable}" | kop_put ${shQuote(file.path)} ${file.mode}; then ${onChange}; fi`;
  }
  const body = file.content.endsWith("\n") ? file.content : file.content + "\n";
  const marker = heredocMarker(body);
  const strip = file.content.endsWith("\n") ? "" : " # (no trailing newline in the original)";
  if (strip) {
    return `if head -c -1 <<'${marker}' | kop_put ${shQuote(file.path)} ${file.mode}; then ${onChange}; fi${strip}\n${body}${marker}`;
  }
  return `if kop_put ${shQuote(file.path)} ${file.mode} <<'${marker}'; then ${onChange}; fi\n${body}${marker}`;
}

/** A complete script: header, prelude, the secrets it reads from stdin, then the body. */
export function script(description: string, body: string, secrets: readonly string[] = []): string {
  const readSecrets = secrets.map((name) => `kop_secret ${name}`).join("\n");
  return [
    "#!/usr/bin/env bash",
    `# kubeadm-on-pulumi: ${description}`,
    "set -euo pipefail",
    "export DEBIAN_FRONTEND=noninteractive LC_ALL=C",
    PRELUDE.trim(),
    readSecrets,
    body.trim(),
    "",
  ]
    .filter((part) => part !== "")
    .join("\n");
}

/** What a step's stdin carries: one "NAME=base64" line per secret, in the order the script reads them (kop_secret). */
export function secretLines(names: readonly string[], values: readonly string[]): string {
  return names.map((name, i) => `${name}=${Buffer.from(values[i], "utf8").toString("base64")}\n`).join("");
}
