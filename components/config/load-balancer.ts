import { z } from "zod";
import { ipv4, port } from "./fields";

export const loadBalancerSchema = z.strictObject({
  /**
   * none: a single control plane or an external balancer;
   * dedicated: HAProxy + keepalived on hosts with the load-balancer role;
   * colocated: HAProxy + keepalived on every control plane, listening on `port` (not the API server port).
   */
  mode: z.enum(["none", "dedicated", "colocated"]).default("none"),
  /** Virtual IP that keepalived moves between the balancers. */
  vip: ipv4().optional(),
  /** Interface that carries the VIP on every balancer. */
  interface: z.string().regex(/^[A-Za-z0-9_.@-]{1,15}$/, "is not a network interface name").default("eth0"),
  /** VRRP router id, unique on the L2 segment (1-255). */
  virtualRouterId: z.number().int().min(1).max(255).default(51),
  /** Frontend port on the VIP; defaults to 6443 (dedicated) or 8443 (colocated). */
  port: port().optional(),
  /** VRRP advertisement interval in seconds. */
  advertIntervalSeconds: z.number().int().min(1).max(255).default(1),
  /**
   * HAProxy's own liveness endpoint (http://127.0.0.1:PORT/healthz, never reachable from outside):
   * keepalived polls it so the VIP leaves a balancer whose HAProxy is down, not only a dead host.
   */
  healthCheckPort: port().default(8405),
  /** HAProxy stats page, bound to 127.0.0.1 only. */
  stats: z.strictObject({ enabled: z.boolean().default(false), port: port().default(8404) }).prefault({}),
});

export type LoadBalancerInput = z.output<typeof loadBalancerSchema>;
