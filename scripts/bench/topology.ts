import { clusterSection, parseClusterConfig, readStackConfig, type ClusterModel } from "../../components/config";
import { fromNumber, toNumber } from "../../components/config/net";

export const BENCH_STACK = "prod";

type HostEntry = { name: string; address: string; roles: string[]; [key: string]: unknown };

/** The `cluster:` section of a stack file, namespace stripped. */
export function stackSection(stack: string = BENCH_STACK): Record<string, unknown> {
  return clusterSection(readStackConfig(stack).entries);
}

/**
 * The stack's config with exactly `workers` workers: the stack's own workers first (so the
 * stack's own size reproduces the stack file), then copies of its last worker with fresh names
 * and addresses (10.<b>.<c>.<d> counted up from the block after the stack's last worker address).
 * Every other host and setting is the stack's.
 */
export function sectionWithWorkers(section: Record<string, unknown>, workers: number): Record<string, unknown> {
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers must be a positive integer, got ${workers}`);
  const hosts = section.hosts as HostEntry[];
  const isWorker = (h: HostEntry) => h.roles.includes("worker") && !h.roles.includes("control-plane");
  const own = hosts.filter(isWorker);
  if (own.length === 0) throw new Error("the stack has no worker to copy");
  const template = own[own.length - 1];
  const [a, b] = template.address.split(".").map(Number);
  if (![a, b].every((x) => Number.isInteger(x))) throw new Error(`the template worker's address ${template.address} is not IPv4`);
  const taken = new Set(hosts.flatMap((h) => [h.address, h.internalAddress].filter(Boolean) as string[]));
  const names = new Set(hosts.map((h) => h.name));
  const prefix = template.name.replace(/\d+$/, "");
  const extra: HostEntry[] = [];
  let next = 0;
  for (let i = own.length + 1; extra.length < workers - own.length; i++) {
    const name = `${prefix}${i}`;
    if (names.has(name)) continue;
    let address: string;
    do {
      // Skip .0 and .255 in each /24: 254 workers per block, blocks after the template's /16 prefix's first /24s.
      const block = 1 + Math.floor(next / 254);
      address = `${a}.${b}.${block}.${1 + (next % 254)}`;
      next++;
    } while (taken.has(address));
    const { internalAddress: _unused, ...copy } = template;
    extra.push({ ...copy, name, address });
  }
  const kept = own.slice(0, workers);
  const others = hosts.filter((h) => !isWorker(h));
  const all = [...others, ...kept, ...extra];
  const nodes = all.filter((h) => h.roles.includes("worker") || h.roles.includes("control-plane")).length;
  return { ...section, kubernetes: podSubnetFor(section.kubernetes as Record<string, unknown>, nodes), hosts: all };
}

/**
 * A stack sized for a few nodes has a pod network with a /24 per node for a few hundred; scaled
 * up, the copy gets the same network widened (same first address, aligned down) to fit every node.
 */
function podSubnetFor(kubernetes: Record<string, unknown>, nodes: number): Record<string, unknown> {
  const [base, prefixText] = String(kubernetes.podSubnet ?? "10.244.0.0/16").split("/");
  const prefix = Math.min(Number(prefixText), 24 - Math.ceil(Math.log2(Math.max(nodes, 1))));
  const size = 2 ** (32 - prefix);
  const first = Math.floor(toNumber(base) / size) * size;
  return { ...kubernetes, podSubnet: `${fromNumber(first)}/${prefix}` };
}

/** The validated model of the benchmark stack with `workers` workers. */
export function modelWithWorkers(section: Record<string, unknown>, workers: number): ClusterModel {
  return parseClusterConfig(sectionWithWorkers(section, workers), { stackName: BENCH_STACK });
}

/**
 * A section as the Pulumi language host hands config to the program: "cluster:<key>" entries,
 * structured values as JSON text, plus a (secret) SSH key so the program's own checks pass.
 */
export function pulumiConfigEntries(section: Record<string, unknown>): { config: Record<string, string>; secretKeys: string[] } {
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(section)) config[`cluster:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  config["cluster:sshPrivateKey"] = "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n-----END OPENSSH PRIVATE KEY-----";
  return { config, secretKeys: ["cluster:sshPrivateKey"] };
}
