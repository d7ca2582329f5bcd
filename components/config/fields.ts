import { z } from "zod";
import { addressProblem, isIPv4, looksLikeIPv4, parseCidr } from "./net";

/** Shared field types, each with an error message that shows the bad value. */

export const ipv4 = () =>
  z.string().refine(isIPv4, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid IPv4 address` });

export const cidr = () =>
  z.string().refine((v) => parseCidr(v) !== undefined, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a valid IPv4 CIDR (network/prefix with no host bits set)`,
  });

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A DNS name: dot-separated labels of 1-63 lower-case letters, digits and '-', at most 253 characters. */
export function isDnsName(value: string): boolean {
  return value.length <= 253 && value.split(".").every((l) => DNS_LABEL.test(l));
}

/** A Kubernetes node name: a lower-case DNS-1123 subdomain. */
export const nodeName = () =>
  z.string().refine(isDnsName, {
    error: (issue) =>
      `${JSON.stringify(issue.input)} is not a valid node name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)`,
  });

/**
 * An IPv4 address or a DNS name. Anything made of four dot-separated numbers is judged as an
 * address ("192.168.56.300" is a bad address, not a DNS name).
 */
export const hostOrAddress = () =>
  z.string().refine((v) => (looksLikeIPv4(v) ? isIPv4(v) : isDnsName(v)), {
    error: (issue) => {
      const v = String(issue.input);
      return looksLikeIPv4(v) ? `${JSON.stringify(v)} is not a valid IPv4 address` : `${JSON.stringify(v)} is neither an IPv4 address nor a DNS name`;
    },
  });

/**
 * Where a host is reached (by SSH, or by the other nodes): an address or name that names this
 * machine on the network, so never loopback, unspecified, multicast or broadcast.
 */
export const hostAddress = (opts: { allowName: boolean }) =>
  (opts.allowName ? hostOrAddress() : ipv4()).superRefine((v, ctx) => {
    const problem = v === "localhost" ? "is a loopback name" : isIPv4(v) ? addressProblem(v) : undefined;
    if (problem) {
      ctx.addIssue({
        code: "custom",
        message: `${v} ${problem}: the other machines cannot reach this host there; use the address the host has on the network the nodes share`,
      });
    }
  });

export const port = () =>
  z.number().int().refine((p) => p >= 1 && p <= 65535, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a TCP port (1-65535)`,
  });

export const httpUrl = () =>
  z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return (u.protocol === "http:" || u.protocol === "https:") && u.hostname.length > 0;
      } catch {
        return false;
      }
    },
    { error: (issue) => `${JSON.stringify(issue.input)} is not an http(s) URL` },
  );

/** A registry host with optional port and path, no scheme: "registry.k8s.io", "reg.example.com:5000/library". */
export const registry = () =>
  z.string().refine((v) => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9._\-/]+)?$/.test(v) && !v.includes("//"), {
    error: (issue) => `${JSON.stringify(issue.input)} is not a registry reference (host[:port][/path], no scheme)`,
  });

/** A full image reference: registry/path:tag (or @sha256 digest). */
export const image = () =>
  z.string().refine((v) => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d{1,5})?\/[a-z0-9._\-/]+(:[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})$/.test(v), {
    error: (issue) => `${JSON.stringify(issue.input)} is not a full image reference (registry/name:tag)`,
  });

/**
 * Versions written without the leading "v": "1.29.13". YAML reads an unquoted 1.29 as a number
 * (and 1.30 as 1.3), so a number gets its own message asking for quotes.
 */
export const semver = (example = "1.29.13") =>
  z
    .string({
      error: (issue) =>
        typeof issue.input === "number" ? `expected a quoted version string like "${example}", got the number ${issue.input}` : undefined,
    })
    .refine((v) => /^\d+\.\d+\.\d+$/.test(v), {
      error: (issue) => `${JSON.stringify(issue.input)} is not a version like ${example} (no leading "v")`,
    });

export const positiveInt = () =>
  z.number().int().refine((n) => n > 0, { error: (issue) => `${JSON.stringify(issue.input)} must be a positive whole number` });

/** Kubernetes quantity, e.g. "30Gi", "2", "512Mi". */
export const quantity = () =>
  z.string().refine((v) => /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$/.test(v), {
    error: (issue) => `${JSON.stringify(issue.input)} is not a Kubernetes quantity like 512Mi or 30Gi`,
  });

export const labelKey = () =>
  z.string().refine((v) => /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(v), {
    error: (issue) => `${JSON.stringify(issue.input)} is not a valid label key`,
  });

export const labelValue = () =>
  z.string().refine((v) => /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/.test(v), {
    error: (issue) => `${JSON.stringify(issue.input)} is not a valid label value`,
  });
