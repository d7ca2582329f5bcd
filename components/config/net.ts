import * as ipaddr from "ipaddr.js";

export function isIPv4(value: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(value);
}

/** Four dot-separated numbers: meant as an IPv4 address, whether or not it is a valid one. */
export function looksLikeIPv4(value: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(value);
}

const UNUSABLE_RANGES: Record<string, string> = {
  loopback: "is a loopback address",
  unspecified: "is the unspecified address",
  multicast: "is a multicast address",
  broadcast: "is the broadcast address",
};

/** Why a valid IPv4 address cannot be a host's address, or undefined when it can. */
export function addressProblem(address: string): string | undefined {
  return UNUSABLE_RANGES[ipaddr.IPv4.parse(address).range()];
}

export interface Cidr {
  text: string;
  first: number;
  last: number;
  prefix: number;
}

/** Parses "10.244.0.0/16"; undefined when not a canonical IPv4 CIDR. */
export function parseCidr(value: string): Cidr | undefined {
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(value)) return undefined;
  const [address, prefixText] = value.split("/");
  if (!isIPv4(address)) return undefined;
  const prefix = Number(prefixText);
  if (prefix < 0 || prefix > 32) return undefined;
  const base = toNumber(address);
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) return undefined; // host bits set: "10.244.1.0/16" is a typo, not a network
  return { text: value, first: base, last: base + size - 1, prefix };
}

export function toNumber(address: string): number {
  return ipaddr.IPv4.parse(address).toByteArray().reduce((n, byte) => n * 256 + byte, 0);
}

export function fromNumber(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function contains(cidr: Cidr, address: string): boolean {
  const n = toNumber(address);
  return n >= cidr.first && n <= cidr.last;
}

/** The n-th address of a network (kubeadm puts the API service at 1 and cluster DNS at 10). */
export function nthAddress(cidr: Cidr, n: number): string {
  return fromNumber(cidr.first + n);
}
