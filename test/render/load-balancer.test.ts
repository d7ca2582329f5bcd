import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStackFile, type ClusterModel } from "../../components/config";
import { HAPROXY_CONFIG } from "../../components/load-balancer/haproxy";
import { KEEPALIVED_CONFIG, VRRP_AUTH_FILE } from "../../components/load-balancer/keepalived";
import { planLoadBalancer } from "../../components/load-balancer/plan";
import { requireTool, run as runTool } from "../support/tools";

function run(cmd: string, args: string[]): { status: number; output: string } {
  const r = runTool(cmd, args);
  return { status: r.code, output: `${r.stdout}${r.stderr}` };
}

function requireTools(): void {
  requireTool("haproxy", "haproxy");
  requireTool("keepalived", "keepalived");
  requireTool("ip", "iproute2");
  requireTool("unshare", "util-linux");
  // keepalived -t checks that the vrrp_script's program exists.
  if (!fs.existsSync("/usr/bin/curl")) throw new Error("/usr/bin/curl is missing: run `apt-get install -y curl` (.ci/run does this)");
  if (!fs.existsSync(path.dirname(KEEPALIVED_CONFIG))) throw new Error(`${path.dirname(KEEPALIVED_CONFIG)} is missing: run \`apt-get install -y keepalived\``);
}

/** The files a balancer's steps place, by host path. */
function balancerFiles(model: ClusterModel, host: string): Map<string, string> {
  const steps = planLoadBalancer(model).filter((s) => s.host === host);
  return new Map(steps.flatMap((s) => s.files.filter((f) => !f.secret).map((f) => [f.path, f.content] as const)));
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "kop-lb-render-"));
const namespaces: string[] = [];

/** A scratch network namespace holding one interface of the given name (keepalived -t insists it exists). */
function namespaceWith(iface: string | undefined): string {
  const ns = `koplb${process.pid}-${namespaces.length}`;
  const add = run("ip", ["netns", "add", ns]);
  if (add.status !== 0) throw new Error(`ip netns add ${ns}: ${add.output}`);
  namespaces.push(ns);
  if (iface) {
    // veth, not dummy: the dummy module is missing on some kernels.
    const link = run("ip", ["netns", "exec", ns, "ip", "link", "add", iface, "type", "veth", "peer", "name", "kop-peer0"]);
    if (link.status !== 0) throw new Error(`cannot create ${iface} in ${ns}: ${link.output}`);
  }
  return ns;
}

/**
 * keepalived -t on the file exactly as rendered: a private mount namespace puts `dir` on
 * /etc/keepalived (so the include of the password file resolves), a PID namespace dodges
 * keepalived 2.2.7's self-kill during -t (see the keepalived step).
 */
function keepalivedCheck(ns: string, dir: string): { status: number | null; output: string } {
  const inner = `mount --bind "$1" ${path.dirname(KEEPALIVED_CONFIG)} && exec keepalived -t -l -f ${KEEPALIVED_CONFIG}`;
  return run("ip", ["netns", "exec", ns, "unshare", "--mount", "--pid", "--fork", "sh", "-c", inner, "sh", dir]);
}

function writeKeepalivedDir(name: string, config: string): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, path.basename(KEEPALIVED_CONFIG)), config);
  // What the step writes from the secret: one auth_pass line, at most 8 letters or digits.
  fs.writeFileSync(path.join(dir, path.basename(VRRP_AUTH_FILE)), "auth_pass Ab3dE6gH\n", { mode: 0o600 });
  return dir;
}

beforeAll(requireTools);
afterAll(() => {
  for (const ns of namespaces) run("ip", ["netns", "del", ns]);
  fs.rmSync(work, { recursive: true, force: true });
});

describe.each([
  ["prod", "dedicated"],
  ["china", "colocated"],
])("load balancer files of stacks/Pulumi.%s.yaml (%s)", (stack, mode) => {
  const model = loadStackFile(stack);

  it(`has ${mode} balancers`, () => {
    expect(model.loadBalancer.mode).toBe(mode);
    expect(model.loadBalancers.length).toBeGreaterThanOrEqual(2);
  });

  it("haproxy.cfg of every balancer passes haproxy -c", () => {
    for (const host of model.loadBalancers) {
      const file = path.join(work, `${stack}-${host.name}-haproxy.cfg`);
      fs.writeFileSync(file, balancerFiles(model, host.name).get(HAPROXY_CONFIG)!);
      const check = run("haproxy", ["-c", "-f", file]);
      expect(check.output, host.name).toContain("Configuration file is valid");
      expect(check.output, host.name).not.toMatch(/\[WARNING\]|\[ALERT\]/);
      expect(check.status, `${host.name}: ${check.output}`).toBe(0);
    }
  });

  it("keepalived.conf of every balancer passes keepalived -t where its interface exists", () => {
    const ns = namespaceWith(model.loadBalancer.interface);
    for (const host of model.loadBalancers) {
      const dir = writeKeepalivedDir(`${stack}-${host.name}`, balancerFiles(model, host.name).get(KEEPALIVED_CONFIG)!);
      const check = keepalivedCheck(ns, dir);
      expect(check.status, `${host.name}: ${check.output}`).toBe(0);
      expect(check.output, host.name).toBe("");
    }
  });
});

describe("the render checks catch broken files", () => {
  const model = loadStackFile("prod");
  const host = model.loadBalancers[0].name;

  it("keepalived -t fails when the interface is missing, or the password file is", () => {
    const config = balancerFiles(model, host).get(KEEPALIVED_CONFIG)!;
    const noInterface = keepalivedCheck(namespaceWith(undefined), writeKeepalivedDir("no-interface", config));
    expect(noInterface.status).not.toBe(0);
    expect(noInterface.output).toMatch(/interface eth0 .* doesn't exist/);
    const dir = writeKeepalivedDir("no-password", config);
    fs.rmSync(path.join(dir, path.basename(VRRP_AUTH_FILE)));
    const noPassword = keepalivedCheck(namespaceWith(model.loadBalancer.interface), dir);
    expect(noPassword.status).not.toBe(0);
    expect(noPassword.output).toMatch(/Config files missing/);
  });

  it("haproxy -c fails on a backend server without an address", () => {
    const file = path.join(work, "broken-haproxy.cfg");
    fs.writeFileSync(file, balancerFiles(model, host).get(HAPROXY_CONFIG)!.replace(/server (\S+) \S+:6443/, "server $1"));
    expect(run("haproxy", ["-c", "-f", file]).status).not.toBe(0);
  });
});
