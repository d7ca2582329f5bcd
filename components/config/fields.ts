import { z } from "zod";
import { isIPv4, parseCidr } from "./net";

/** Shared field types, each with an error message that shows the bad value. */

export const ipv4 = () =>
  z.string().refine(isIPv4, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid IPv4 address` });

export const cidr = () =>
  z.string().refine((v) => parseCidr(v) !== undefined, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a valid IPv4 CIDR (network/prefix with no host bits set)`,
  });

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A Kubernetes node name: a lower-case DNS-1123 subdomain. */
export const nodeName = () =>
  z.string().refine((v) => v.length <= 253 && v.split(".").every((l) => DNS_LABEL.test(l)), {
    error: (issue) =>
      `${JSON.stringify(issue.input)} is not a valid node name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)`,
  });

/** An IPv4 address or a DNS name. */
export const hostOrAddress = () =>
  z.string().refine((v) => isIPv4(v) || (v.length <= 253 && v.split(".").every((l) => DNS_LABEL.test(l))), {
    error: (issue) => `${JSON.stringify(issue.input)} is neither an IPv4 address nor a DNS name`,
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

/** Versions written without the leading "v": "1.29.13". */
export const semver = () =>
  z.string().refine((v) => /^\d+\.\d+\.\d+$/.test(v), {
    error: (issue) => `${JSON.stringify(issue.input)} is not a version like 1.29.13 (no leading "v")`,
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
