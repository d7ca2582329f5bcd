import { describe, expect, it } from "vitest";
import type { ClusterModel } from "../../components/config";
import { renderHaproxyConfig } from "../../components/load-balancer/haproxy";
import { renderKeepalivedConfig } from "../../components/load-balancer/keepalived";
import { loadBalancerReadyIds, planLoadBalancer } from "../../components/load-balancer/plan";
import { planCluster, planEngine } from "../../components/plan";
import { reveal } from "../../scripts/lib/mock-program";
import { haSection, model, problemsOf } from "./fixtures";
import { changedParts, clusterGraph, graphDiff } from "./mock-cluster";

/** The lines of a block that starts with `header` (up to the next blank line). */
function block(text: string, header: string): string[] {
  const lines = text.split("\n");
  const start = lines.indexOf(header);
  if (start < 0) return [];
  const end = lines.indexOf("", start);
  return lines.slice(start, end < 0 ? undefined : end).map((l) => l.trim());
}

function colocatedSection(): Record<string, any> {
  const s = haSection(1);
  s.hosts = s.hosts.filter((h: any) => !h.roles.includes("load-balancer"));
  s.loadBalancer = { mode: "colocated", vip: "10.0.0.100" };
  return s;
}

const balancer = (m: ClusterModel, name: string) => m.loadBalancers.find((h) => h.name === name)!;
const keepalivedOf = (m: ClusterModel, name: string) => renderKeepalivedConfig(m, balancer(m, name));
const valueOf = (conf: string, key: string) =>
  conf
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${key} `))
    .map((l) => l.slice(key.length + 1));

describe("load balancer: haproxy.cfg", () => {
  it("listens on the VIP at 6443 in dedicated mode and 8443 in colocated mode, or the configured port", () => {
    expect(block(renderHaproxyConfig(model(haSection(1))), "frontend kube-apiserver")).toContain("bind 10.0.0.100:6443");
    expect(block(renderHaproxyConfig(model(colocatedSection())), "frontend kube-apiserver")).toContain("bind 10.0.0.100:8443");
    const custom = colocatedSection();
    custom.loadBalancer.port = 9443;
    const m = model(custom);
    expect(block(renderHaproxyConfig(m), "frontend kube-apiserver")).toContain("bind 10.0.0.100:9443");
    expect(m.endpoint.port).toBe(9443);
  });

  it("balances over every control plane's API server, following the hosts in config", () => {
    const s = haSection(1);
    s.kubernetes.apiServerPort = 7443;
    s.hosts[2].internalAddress = "192.168.0.11";
    const servers = (m: ClusterModel) => block(renderHaproxyConfig(m), "backend kube-apiserver").filter((l) => l.startsWith("server "));
    expect(servers(model(s))).toEqual(["server cp1 192.168.0.11:7443", "server cp2 10.0.0.12:7443", "server cp3 10.0.0.13:7443"]);
    s.hosts.push({ name: "cp4", address: "10.0.0.14", roles: ["control-plane"] }, { name: "cp5", address: "10.0.0.15", roles: ["control-plane"] });
    expect(servers(model(s))).toEqual([
      "server cp1 192.168.0.11:7443",
      "server cp2 10.0.0.12:7443",
      "server cp3 10.0.0.13:7443",
      "server cp4 10.0.0.14:7443",
      "server cp5 10.0.0.15:7443",
    ]);
  });

  it("checks each API server with GET /readyz over TLS and keeps watch connections open", () => {
    const cfg = renderHaproxyConfig(model(haSection(1)));
    const backend = block(cfg, "backend kube-apiserver");
    expect(backend).toEqual(expect.arrayContaining(["option httpchk", "http-check send meth GET uri /readyz", "http-check expect status 200"]));
    expect(backend.find((l) => l.startsWith("default-server"))).toMatch(/\bcheck check-ssl verify none\b/);
    const defaults = block(cfg, "defaults");
    expect(defaults).toEqual(expect.arrayContaining(["mode tcp", "timeout client 1h", "timeout server 1h"]));
  });

  it("serves its own liveness on loopback only, and the stats page only when enabled, on loopback", () => {
    const off = renderHaproxyConfig(model(haSection(1)));
    expect(block(off, "frontend kop-haproxy-health")).toEqual(expect.arrayContaining(["bind 127.0.0.1:8405", "monitor-uri /healthz"]));
    expect(off).not.toMatch(/stats enable/);
    const s = haSection(1);
    s.loadBalancer.stats = { enabled: true, port: 9000 };
    s.loadBalancer.healthCheckPort = 9001;
    const on = renderHaproxyConfig(model(s));
    expect(block(on, "listen stats")).toEqual(expect.arrayContaining(["bind 127.0.0.1:9000", "stats enable"]));
    expect(block(on, "frontend kop-haproxy-health")).toContain("bind 127.0.0.1:9001");
    // Nothing but the API frontend binds an address other than loopback.
    const binds = on.split("\n").filter((l) => l.trim().startsWith("bind ")).map((l) => l.trim());
    expect(binds).toEqual(["bind 10.0.0.100:6443", "bind 127.0.0.1:9001", "bind 127.0.0.1:9000"]);
  });
});

describe("load balancer: keepalived.conf", () => {
  it("gives priorities by host order and the first balancer the highest", () => {
    const s = haSection(1);
    s.hosts.splice(2, 0, { name: "lb3", address: "10.0.0.7", roles: ["load-balancer"] });
    const m = model(s);
    expect(["lb1", "lb2", "lb3"].map((n) => valueOf(keepalivedOf(m, n), "priority"))).toEqual([["200"], ["199"], ["198"]]);
    const colocated = model(colocatedSection());
    expect(["cp1", "cp2", "cp3"].map((n) => valueOf(keepalivedOf(colocated, n), "priority"))).toEqual([["200"], ["199"], ["198"]]);
  });

  it("sends unicast adverts from its own address to every other balancer, never itself", () => {
    const m = model(colocatedSection());
    const conf = keepalivedOf(m, "cp2");
    expect(valueOf(conf, "unicast_src_ip")).toEqual(["10.0.0.12"]);
    const peers = conf.slice(conf.indexOf("unicast_peer {")).split("}")[0].split("\n").slice(1).map((l) => l.trim()).filter(Boolean);
    expect(peers).toEqual(["10.0.0.11", "10.0.0.13"]);
  });

  it("uses the configured virtual_router_id, advert interval, interface and VIP", () => {
    const s = haSection(1);
    s.loadBalancer = { ...s.loadBalancer, virtualRouterId: 77, advertIntervalSeconds: 3, interface: "bond0.12" };
    const conf = keepalivedOf(model(s), "lb1");
    expect(valueOf(conf, "virtual_router_id")).toEqual(["77"]);
    expect(valueOf(conf, "advert_int")).toEqual(["3"]);
    expect(valueOf(conf, "interface")).toEqual(["bond0.12"]);
    expect(conf).toContain("vrrp_instance kop_api_77 {");
    expect(conf).toContain("        10.0.0.100/32 dev bond0.12\n");
    const defaults = keepalivedOf(model(haSection(1)), "lb1");
    expect(valueOf(defaults, "virtual_router_id")).toEqual(["51"]);
    expect(valueOf(defaults, "advert_int")).toEqual(["1"]);
  });

  it("tracks HAProxy's liveness endpoint as an unprivileged user with script security on", () => {
    const s = haSection(1);
    s.loadBalancer.healthCheckPort = 9100;
    const conf = keepalivedOf(model(s), "lb2");
    expect(block(conf, "global_defs {")).toEqual(expect.arrayContaining(["enable_script_security", "script_user nobody"]));
    expect(conf).toContain('script "/usr/bin/curl -fsS --max-time 2 -o /dev/null http://127.0.0.1:9100/healthz"');
    expect(conf).toMatch(/track_script \{\n\s+kop_haproxy_alive\n/);
  });

  it("does not depend on the control planes, and has no password in it", () => {
    const s = haSection(1);
    const before = keepalivedOf(model(s), "lb1");
    s.hosts.push({ name: "cp4", address: "10.0.0.14", roles: ["control-plane"] }, { name: "cp5", address: "10.0.0.15", roles: ["control-plane"] });
    expect(keepalivedOf(model(s), "lb1")).toBe(before);
    expect(before).not.toMatch(/auth_pass/);
    expect(before).toContain("include /etc/keepalived/kubeadm-on-pulumi-vrrp-auth.conf");
  });
});

describe("load balancer: plan", () => {
  it("has three ordered steps per balancer, none without a load balancer", () => {
    const m = model(haSection(1));
    const steps = planLoadBalancer(m);
    expect(steps.map((s) => s.id)).toEqual([
      "lb1/lb-install",
      "lb1/haproxy-config",
      "lb1/keepalived-config",
      "lb2/lb-install",
      "lb2/haproxy-config",
      "lb2/keepalived-config",
    ]);
    const byId = new Map(steps.map((s) => [s.id, s]));
    expect(byId.get("lb1/lb-install")!.needs).toEqual(["lb1/os-prep"]);
    expect(byId.get("lb1/haproxy-config")!.needs).toEqual(["lb1/lb-install"]);
    expect(byId.get("lb1/keepalived-config")!.needs).toEqual(["lb1/haproxy-config"]);
    expect(loadBalancerReadyIds(m)).toEqual(["lb1/keepalived-config", "lb2/keepalived-config"]);

    const single = haSection(1);
    single.hosts = single.hosts.filter((h: any) => h.name !== "lb1" && h.name !== "lb2");
    single.loadBalancer = { mode: "none" };
    const none = model(single);
    expect(planLoadBalancer(none)).toEqual([]);
    expect(loadBalancerReadyIds(none)).toEqual([]);
    expect(planCluster(none).steps.filter((s) => s.layer === "load-balancer")).toEqual([]);
  });

  it("checks each config with the real tool before it replaces the running one, and reloads HAProxy", () => {
    const steps = planLoadBalancer(model(haSection(1)));
    const haproxy = steps.find((s) => s.id === "lb1/haproxy-config")!;
    const check = haproxy.script.indexOf('haproxy -c -f "$new"');
    const swap = haproxy.script.indexOf("kop_put '/etc/haproxy/haproxy.cfg'");
    expect(check).toBeGreaterThan(0);
    expect(swap).toBeGreaterThan(check);
    expect(haproxy.script).toContain("systemctl reload haproxy.service");
    expect(haproxy.script).not.toMatch(/changed.*restart haproxy/);
    const keepalived = steps.find((s) => s.id === "lb1/keepalived-config")!;
    expect(keepalived.script.indexOf("keepalived -t -l -f")).toBeLessThan(keepalived.script.indexOf("kop_put '/etc/keepalived/keepalived.conf'"));
    const install = steps.find((s) => s.id === "lb1/lb-install")!;
    expect(install.files.map((f) => [f.path, f.content.trim().split("\n").pop()])).toEqual([
      ["/etc/sysctl.d/90-kubeadm-on-pulumi-load-balancer.conf", "net.ipv4.ip_nonlocal_bind = 1"],
    ]);
    for (const step of steps) expect(step.deleteScript, step.id).toBeTruthy();
  });

  it("reads the VRRP password from stdin into a secret file; no script carries it", () => {
    const steps = planLoadBalancer(model(haSection(1)));
    for (const step of steps) {
      const secretFiles = step.files.filter((f) => f.secret);
      if (step.id.endsWith("/keepalived-config")) {
        expect(step.secrets).toEqual(["vrrp_auth"]);
        expect(secretFiles.map((f) => [f.path, f.mode, f.secret!.name])).toEqual([["/etc/keepalived/kubeadm-on-pulumi-vrrp-auth.conf", "0600", "vrrp_auth"]]);
        expect(step.script).toContain("kop_secret vrrp_auth");
      } else {
        expect(step.secrets).toEqual([]);
        expect(secretFiles).toEqual([]);
      }
      // The only auth_pass in any script is the printf format that receives the stdin value.
      expect(step.script.match(/auth_pass.*/g) ?? []).toEqual(step.id.endsWith("/keepalived-config") ? ["auth_pass %s\\n' \"$vrrp_password\" | kop_put /etc/keepalived/kubeadm-on-pulumi-vrrp-auth.conf 0600; then changed=1; fi"] : []);
    }
  });
});

describe("load balancer: the Pulumi graph", () => {
  it("sends the generated VRRP password on stdin only, as a secret", async () => {
    const graph = await clusterGraph(model(haSection(1)), { preview: false });
    const step = graph.byName("lb1/keepalived-config");
    const secret = "mockedsecretvalue"; // what the mocks give every RandomPassword
    for (const key of ["create", "delete"]) expect(JSON.stringify(step.inputs[key])).not.toContain(secret);
    // Its stdin: the step's scripts (which never hold the secret), then the secret line.
    const stdin = String(reveal(step.inputs.stdin));
    const line = `vrrp_auth=${Buffer.from(secret).toString("base64")}\n`;
    expect(stdin.endsWith(line)).toBe(true);
    expect(stdin.slice(0, -line.length)).not.toContain(secret);
    expect(step.inputs.logging).toBe("none");
    for (const r of graph.custom.filter((r) => r.type === "command:remote:Command")) {
      expect(JSON.stringify(r.inputs.create), r.name).not.toContain(secret);
    }
  });

  it("adding a control plane re-renders only each balancer's haproxy-config (and /etc/hosts), never keepalived or the installs", async () => {
    const section = haSection(2);
    const before = await clusterGraph(model(section));
    section.hosts.push({ name: "cp4", address: "10.0.0.14", roles: ["control-plane"] }, { name: "cp5", address: "10.0.0.15", roles: ["control-plane"] });
    const grown = model(section);
    const after = await clusterGraph(grown);
    const diff = graphDiff(before, after);
    expect(diff.removed).toEqual([]);
    expect(diff.added.every((name) => name.startsWith("cp4/") || name.startsWith("cp5/"))).toBe(true);
    // The layers a new control plane must not disturb beyond /etc/hosts and HAProxy's backend list
    // (the control-plane layer's own reaction is that layer's business).
    const layerOf = new Map(planEngine(grown).steps.map((s) => [s.id, s.layer]));
    const below = diff.changed.filter((n) => ["hosts", "runtime", "packages", "load-balancer"].includes(layerOf.get(n) ?? ""));
    expect(below.filter((n) => !n.endsWith("/node-prep"))).toEqual(["lb1/haproxy-config", "lb2/haproxy-config"]);
    // Every host's node-prep changes, but on balancers and workers only its hosts-file part re-runs.
    const preps = below.filter((n) => n.endsWith("/node-prep"));
    expect(preps.length).toBe(7);
    for (const prep of preps.filter((n) => !n.startsWith("cp"))) {
      expect(changedParts(before, after, prep), prep).toEqual(["hosts-file"]);
    }
  });

  it("changing a VRRP setting re-runs only the keepalived-config steps", async () => {
    const section = haSection(1);
    const before = await clusterGraph(model(section));
    section.loadBalancer.virtualRouterId = 99;
    const diff = graphDiff(before, await clusterGraph(model(section)));
    expect(diff).toEqual({ added: [], removed: [], changed: ["lb1/keepalived-config", "lb2/keepalived-config"] });
  });
});

describe("load balancer: config rules", () => {
  it("rejects ports HAProxy would bind twice, or that collide with the control plane in colocated mode", () => {
    const s = haSection(1);
    s.loadBalancer.healthCheckPort = 6443;
    s.loadBalancer.stats = { enabled: true, port: 6443 };
    expect(problemsOf(s)).toEqual([
      "cluster:loadBalancer.healthCheckPort: 6443 is already the frontend port (default 6443); HAProxy cannot bind one port twice",
      "cluster:loadBalancer.stats.port: 6443 is already the frontend port (default 6443); HAProxy cannot bind one port twice",
    ]);
    const c = colocatedSection();
    c.loadBalancer.healthCheckPort = 10250;
    expect(problemsOf(c)).toEqual([
      'cluster:loadBalancer.healthCheckPort: 10250 is used by the kubelet on the control planes, which run HAProxy in mode "colocated"',
    ]);
    // A disabled stats page binds nothing, so its port may be anything.
    const quiet = haSection(1);
    quiet.loadBalancer.stats = { enabled: false, port: 6443 };
    expect(model(quiet).loadBalancer.stats.enabled).toBe(false);
  });

  it("rejects an endpoint port other than the balancer's frontend port", () => {
    const s = haSection(1);
    s.controlPlaneEndpoint.port = 443;
    expect(problemsOf(s)).toEqual([
      "cluster:controlPlaneEndpoint.port: 443 differs from the load balancer's frontend port 6443; clients reach the API through HAProxy, so set cluster:loadBalancer.port instead",
    ]);
  });
});
