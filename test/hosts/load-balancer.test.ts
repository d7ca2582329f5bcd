/**
 * Hosts tier for the load-balancer layer (issue 4): two balancers and a stand-in API server
 * (openssl s_server answering /readyz over TLS on 6443). The rendered scripts provision HAProxy +
 * keepalived for real, with the VRRP password on stdin as the wiring sends it. Then: the VIP is
 * held by exactly one balancer, TLS through VIP:6443 reaches the backend, and the VIP moves when
 * HAProxy stops on the active balancer, when its link is cut and when it is powered off; the
 * time until connections succeed again is measured from this machine. Every step runs twice
 * (nothing changes the second time) and the delete scripts leave no trace.
 *
 *   flock /tmp/kop-hosts.lock npx vitest run --project hosts test/hosts/load-balancer.test.ts
 *
 * Measurements are printed and written to $KOP_LB_FAILOVER_REPORT (default /tmp/kop-lb-failover.json).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelFromObject, type ClusterModel } from "../../components/config";
import { haproxyConfigId, keepalivedConfigId, lbInstallId } from "../../components/load-balancer/plan";
import { planCluster } from "../../components/plan";
import type { StepSpec } from "../../components/remote/step";
import { requireRoot, startTestHosts, type TestHosts } from "./harness";
import { fingerprintDiff, hostFingerprintScript, splitPackages } from "./fingerprint";
import { applyStep, fingerprintScript } from "./steps";

const BALANCERS = ["lb1", "lb2"] as const;
const API = "api1";
const VIP = "10.213.0.100";
const PORT = 6443;
const INTERFACE = "host0";
/** The VRRP password as components/secrets.ts would generate it: 8 letters and digits. */
const SECRETS = { vrrp_auth: "q7Rt2vX9" };
const REPORT = process.env.KOP_LB_FAILOVER_REPORT ?? "/tmp/kop-lb-failover.json";
/** How long a failover may take before the test fails (the design target is a few seconds). */
const FAILOVER_BOUND_MS = 10_000;
const REPEATS = 3;

function testModel(hosts: Array<{ name: string; address: string }>, extraControlPlanes: Array<{ name: string; address: string }> = []): ClusterModel {
  const at = (name: string) => hosts.find((h) => h.name === name)!.address;
  return modelFromObject(
    {
      kubernetes: { version: "1.29.13" },
      loadBalancer: { mode: "dedicated", vip: VIP, interface: INTERFACE, stats: { enabled: true } },
      hosts: [
        ...BALANCERS.map((name) => ({ name, address: at(name), roles: ["load-balancer"] })),
        { name: API, address: at(API), roles: ["control-plane"] },
        ...extraControlPlanes.map((h) => ({ ...h, roles: ["control-plane"] })),
      ],
    },
    "lb-hosts-test",
  );
}

/** One TLS request through the VIP: true when the backend answered 200. */
function probe(timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get({ host: VIP, port: PORT, path: "/readyz", rejectUnauthorized: false, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
      res.on("error", () => resolve(false));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
  });
}

interface Outage {
  /** From the fault to the first probe of an unbroken run of successes. */
  recoveredMs: number;
  /** Probes that failed (one probe every 100 ms). */
  failedProbes: number;
}

/**
 * Starts a probe every 100 ms (each with a 1 s timeout), injects the fault, and returns the time
 * from the fault to the start of the first probe after which every probe succeeded (at least 3 s
 * of successes). Fails when connections do not come back within FAILOVER_BOUND_MS.
 */
async function measureOutage(fault: () => Promise<void>, opts: { mayBeSeamless?: boolean } = {}): Promise<Outage> {
  const results: Array<{ at: number; ok?: boolean }> = [];
  let stop = false;
  const pending: Promise<void>[] = [];
  const t0 = Date.now();
  const ticker = (async () => {
    while (!stop) {
      const entry: { at: number; ok?: boolean } = { at: Date.now() - t0 };
      results.push(entry);
      pending.push(probe(1000).then((ok) => void (entry.ok = ok)));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await fault();
  const deadline = Date.now() + FAILOVER_BOUND_MS + 5000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const settled = results.filter((r) => r.ok !== undefined);
    const lastFailure = settled.filter((r) => !r.ok).pop();
    const tail = settled.filter((r) => r.at > (lastFailure?.at ?? -1));
    if ((lastFailure || opts.mayBeSeamless) && tail.length >= 30) break; // 3 s of successes after the outage
    if (Date.now() > deadline) break;
  }
  stop = true;
  await ticker;
  await Promise.all(pending);
  const failures = results.filter((r) => r.ok === false);
  if (failures.length === 0 && opts.mayBeSeamless) return { recoveredMs: 0, failedProbes: 0 };
  expect(failures.length, "the fault caused no outage at all: the probes did not go through the failed balancer").toBeGreaterThan(0);
  const lastFailure = failures[failures.length - 1];
  const recovered = results.find((r) => r.at > lastFailure.at && r.ok);
  expect(recovered, `connections did not come back within ${FAILOVER_BOUND_MS} ms`).toBeDefined();
  return { recoveredMs: recovered!.at, failedProbes: failures.length };
}

/** A fingerprint's package lines (name -> "version status") apart from everything else. */
describe("load balancer: HAProxy + keepalived on real hosts", () => {
  let env: TestHosts;
  let model: ClusterModel;
  let steps: StepSpec[];
  let pristine: Record<string, string>;
  /** Each balancer as a whole before its first step (fingerprint.ts). */
  const pristineHost: Record<string, string> = {};
  const report: Record<string, unknown> = { vip: VIP, advertIntervalSeconds: 1, check: "curl of HAProxy's /healthz every 1 s, fall 2" };

  const sh = async (host: string, script: string) => {
    const r = await env.run(host, script);
    if (r.code !== 0) throw new Error(`${host}: ${script}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
  };
  const lbSteps = (host: string) => steps.filter((s) => s.host === host && s.layer === "load-balancer");
  const onBalancers = (f: (host: string) => Promise<unknown>) => Promise.all(BALANCERS.map(f));

  /** Files, directories, units, packages and kernel settings the layer may touch. */
  const fingerprint = async (host: string) => {
    const paths = [...new Set(lbSteps(host).flatMap((s) => s.files.map((f) => f.path)))];
    const withBackups = paths.flatMap((p) => [p, `${p}.kop-orig`, `${p}.kop-created`]);
    const dirs = ["/etc/haproxy", "/etc/keepalived", "/etc/sysctl.d", "/var/lib/haproxy", "/run/haproxy"];
    const extra = [
      "echo \"ip_nonlocal_bind $(sysctl -n net.ipv4.ip_nonlocal_bind)\"",
      "echo \"users $(getent passwd haproxy keepalived_script || true)\"",
      // Our state (package records, applied-file records): every file, with its checksum.
      "find /var/lib/kubeadm-on-pulumi -type f -printf 'state %p ' -exec sh -c 'sha256sum <\"$1\" | cut -c1-16' sh {} \\; 2>/dev/null | sort",
    ].join("\n");
    return sh(host, `${fingerprintScript(withBackups, ["haproxy.service", "keepalived.service"], dirs)}\n${extra}`);
  };
  /** Process ids of HAProxy (master and workers) and keepalived (all): equal = not restarted, not reloaded. */
  const processes = (host: string) =>
    sh(host, "for u in haproxy keepalived; do m=$(systemctl show -p MainPID --value $u.service); echo \"$u $m $(pgrep -P \"$m\" | sort | tr '\\n' ' ')\"; done");
  const vipHolders = async (hosts: readonly string[] = BALANCERS) => {
    const held = await Promise.all(hosts.map(async (h) => ((await sh(h, `ip -4 -o addr show dev ${INTERFACE}`)).includes(` ${VIP}/32 `) ? [h] : [])));
    return held.flat();
  };
  /** The machine's neighbour entry for the VIP and the backup balancer's view, for a failover that failed. */
  const failoverDiagnostics = async (backup: string) => {
    const neigh = (() => {
      try {
        return execFileSync("ip", ["neigh", "show", "to", VIP], { encoding: "utf8" }).trim() || "(none)";
      } catch (e) {
        return `(ip neigh failed: ${(e as Error).message})`;
      }
    })();
    const r = await env.run(backup, `ip -4 -o addr show dev ${INTERFACE}; journalctl -u keepalived.service -o short-precise -n 15 --no-pager`);
    return `machine's neighbour entry for ${VIP}: ${neigh}\n${backup}: exit ${r.code}\n${r.stdout}${r.stderr}`;
  };
  /** Waits until exactly `expected` holds the VIP, three checks in a row (no flapping, no split brain). */
  const settleOn = async (expected: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    let stable = 0;
    let holders: string[] = [];
    while (Date.now() < deadline) {
      holders = await vipHolders();
      stable = holders.length === 1 && holders[0] === expected ? stable + 1 : 0;
      if (stable >= 3) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`expected only ${expected} to hold ${VIP}, holders: [${holders.join(", ")}]`);
  };

  beforeAll(async () => {
    requireRoot();
    env = await startTestHosts([...BALANCERS, API]);
    model = testModel(env.hosts);
    steps = planCluster(model).steps;
    // Stand-in API server: TLS on 6443 answering GET /readyz (and /healthz) with 200.
    await sh(
      API,
      [
        "set -e",
        "mkdir -p /srv/fake-apiserver && cd /srv/fake-apiserver",
        "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=api1 -keyout key.pem -out cert.pem -days 2 2>/dev/null",
        "printf ok >readyz && printf ok >healthz",
        `systemd-run --unit=fake-apiserver --working-directory=/srv/fake-apiserver openssl s_server -quiet -WWW -accept ${PORT} -cert cert.pem -key key.pem`,
        `for _ in $(seq 1 50); do ss -Hltn "sport = :${PORT}" | grep -q . && exit 0; sleep 0.1; done; exit 1`,
      ].join("\n"),
    );
    await onBalancers(async (host) => (pristineHost[host] = await sh(host, hostFingerprintScript())));
    // The balancers' prerequisites from the other layers: OS preparation and /etc/hosts.
    await onBalancers(async (host) => {
      for (const step of steps.filter((s) => s.host === host && s.layer === "hosts")) await applyStep(env, step);
    });
    pristine = Object.fromEntries(await Promise.all(BALANCERS.map(async (h) => [h, await fingerprint(h)] as const)));
  });

  afterAll(async () => {
    if (Object.keys(report).length > 3) {
      fs.writeFileSync(REPORT, JSON.stringify(report, null, 2) + "\n");
      console.log(`load-balancer measurements (${REPORT}):\n${JSON.stringify(report, null, 2)}`);
    }
    await env?.teardown();
  });

  it("provisions both balancers from the rendered scripts; a second run changes nothing", async () => {
    const timings: Record<string, number[]> = {};
    const runAll = async () => {
      for (const id of [lbInstallId, haproxyConfigId, keepalivedConfigId]) {
        await onBalancers(async (host) => {
          const step = steps.find((s) => s.id === id(host))!;
          const { ms } = await applyStep(env, step, { secrets: SECRETS });
          (timings[step.id] ??= []).push(ms);
        });
      }
    };
    await runAll();
    const first = await Promise.all(BALANCERS.map(async (h) => [await fingerprint(h), await processes(h)]));
    await runAll();
    const second = await Promise.all(BALANCERS.map(async (h) => [await fingerprint(h), await processes(h)]));
    expect(second).toEqual(first);
    report.stepMs = timings;

    for (const host of BALANCERS) {
      expect(await sh(host, "systemctl is-active haproxy.service keepalived.service")).toBe("active\nactive");
      expect(await sh(host, "systemctl is-enabled haproxy.service keepalived.service")).toBe("enabled\nenabled");
      expect(await sh(host, "sysctl -n net.ipv4.ip_nonlocal_bind")).toBe("1");
      // The password reached a root-only file from stdin.
      expect(await sh(host, "stat -c '%a %U' /etc/keepalived/kubeadm-on-pulumi-vrrp-auth.conf; cat /etc/keepalived/kubeadm-on-pulumi-vrrp-auth.conf")).toBe(
        `600 root\nauth_pass ${SECRETS.vrrp_auth}`,
      );
      // HAProxy listens on the VIP on both balancers (ip_nonlocal_bind), liveness and stats on loopback only.
      const listening = await sh(host, "ss -Hltn | awk '{print $4}' | sort");
      expect(listening.split("\n")).toEqual(expect.arrayContaining([`${VIP}:${PORT}`, "127.0.0.1:8405", "127.0.0.1:8404"]));
    }
  });

  it("the VIP is held by exactly one balancer, the first, and TLS through it reaches the API server", async () => {
    await settleOn("lb1");
    expect(await probe(3000)).toBe(true);
    // The backend is UP in HAProxy's view on both balancers (GET /readyz over TLS succeeded).
    for (const host of BALANCERS) {
      const csv = await sh(host, "curl -fsS 'http://127.0.0.1:8404/;csv'");
      expect(csv.split("\n").find((l) => l.startsWith(`kube-apiserver,${API},`))?.split(",")[17]).toBe("UP");
    }
  });

  it("adding a control plane rewrites only haproxy.cfg and reloads HAProxy; the VIP stays", async () => {
    // Stacked etcd wants an odd number of control planes: two more that do not answer (DOWN in HAProxy).
    const extra = [{ name: "api2", address: "10.213.0.50" }, { name: "api3", address: "10.213.0.51" }];
    const grown = planCluster(testModel(env.hosts, extra)).steps;
    const differing = (host: string) =>
      lbSteps(host)
        .filter((s) => grown.find((g) => g.id === s.id)!.script !== s.script)
        .map((s) => s.id);
    expect(await Promise.all(BALANCERS.map(differing))).toEqual(BALANCERS.map((h) => [haproxyConfigId(h)]));
    const before = await Promise.all(BALANCERS.map(processes));
    await onBalancers((host) => applyStep(env, grown.find((s) => s.id === haproxyConfigId(host))!));
    const after = await Promise.all(BALANCERS.map(processes));
    BALANCERS.forEach((host, i) => {
      const [haproxyBefore, keepalivedBefore] = before[i].split("\n");
      const [haproxyAfter, keepalivedAfter] = after[i].split("\n");
      // A reload: same master process, new workers. keepalived untouched.
      expect(haproxyAfter.split(" ")[1], host).toBe(haproxyBefore.split(" ")[1]);
      expect(haproxyAfter, host).not.toBe(haproxyBefore);
      expect(keepalivedAfter, host).toBe(keepalivedBefore);
    });
    for (const host of BALANCERS) expect(await sh(host, "curl -fsS 'http://127.0.0.1:8404/;csv' | cut -d, -f1,2 | grep -c '^kube-apiserver,api'")).toBe("3");
    expect(await vipHolders()).toEqual(["lb1"]);
    expect(await probe(3000)).toBe(true);
    // Back to the cluster as configured.
    await onBalancers((host) => applyStep(env, steps.find((s) => s.id === haproxyConfigId(host))!));
  });

  it("the VIP moves when HAProxy stops on the active balancer, and comes back without split brain", async () => {
    const runs: Outage[] = [];
    for (let i = 0; i < REPEATS; i++) {
      await settleOn("lb1");
      runs.push(await measureOutage(async () => void (await sh("lb1", "systemctl stop haproxy.service"))));
      await settleOn("lb2");
      await sh("lb1", "systemctl start haproxy.service");
      await settleOn("lb1");
      expect(await probe(3000)).toBe(true);
    }
    report.haproxyStopped = runs;
    for (const r of runs) expect(r.recoveredMs).toBeLessThan(FAILOVER_BOUND_MS);
  });

  it("the VIP moves when the active balancer's link is cut, and comes back without split brain", async () => {
    const runs: Outage[] = [];
    for (let i = 0; i < REPEATS; i++) {
      await settleOn("lb1");
      try {
        runs.push(await measureOutage(() => env.setLink("lb1", "down")));
        // lb1 cannot be asked while cut off; lb2 must hold the VIP.
        expect(await vipHolders(["lb2"])).toEqual(["lb2"]);
      } catch (e) {
        // What the machine and lb2 saw, then lb1 back on the bridge: a failed failover must not
        // leave lb1 cut off for the tests (and the deletes) after this one.
        const seen = await failoverDiagnostics("lb2");
        await env.setLink("lb1", "up");
        throw new Error(`link cut ${i + 1} of ${REPEATS}: ${(e as Error).message}\n${seen}`);
      }
      await env.setLink("lb1", "up");
      await settleOn("lb1");
      expect(await probe(3000)).toBe(true);
    }
    report.linkCut = runs;
    for (const r of runs) expect(r.recoveredMs).toBeLessThan(FAILOVER_BOUND_MS);
  });

  it("the VIP moves when the active balancer powers off, and returns after it boots", async () => {
    await settleOn("lb1");
    // A clean shutdown stops keepalived, which hands the VIP over with a priority-0 advert: the
    // switch may be quicker than one probe interval.
    const run = await measureOutage(() => env.stopHost("lb1"), { mayBeSeamless: true });
    expect(await vipHolders(["lb2"])).toEqual(["lb2"]);
    await env.startHost("lb1");
    // After a boot: the sysctl file, enabled units and keepalived bring lb1 back by themselves.
    await settleOn("lb1", 60_000);
    expect(await sh("lb1", "sysctl -n net.ipv4.ip_nonlocal_bind")).toBe("1");
    expect(await probe(3000)).toBe(true);
    report.poweredOff = run;
    expect(run.recoveredMs).toBeLessThan(FAILOVER_BOUND_MS);
  });

  it("delete scripts, in reverse order, leave no trace", async () => {
    await onBalancers(async (host) => {
      for (const step of [...lbSteps(host)].reverse()) await applyStep(env, step, { which: "delete", secrets: SECRETS });
    });
    const upgraded: string[] = [];
    for (const host of BALANCERS) {
      const [before, after] = [splitPackages(pristine[host]), splitPackages(await fingerprint(host))];
      expect(after.rest).toEqual(before.rest);
      // The same packages as before; a version may only have gone up, when apt had to upgrade a
      // package the host already had to satisfy a new dependency (a purge cannot downgrade it).
      expect([...after.packages.keys()]).toEqual([...before.packages.keys()]);
      for (const [name, version] of after.packages) {
        const was = before.packages.get(name)!;
        if (version === was) continue;
        expect(await sh(host, `dpkg --compare-versions '${version}' gt '${was}' && echo upgrade`), `${name} ${was} -> ${version}`).toBe("upgrade");
        upgraded.push(`${host}: ${name.split(" ")[0]} ${was} -> ${version}`);
      }
      expect(await sh(host, `ip -4 -o addr show dev ${INTERFACE}`)).not.toContain(VIP);
    }
    report.upgradedDependencies = upgraded;
    expect(await probe(1000)).toBe(false);
  });

  it("then destroying the OS layer leaves each balancer as it was before its first step", async () => {
    await onBalancers(async (host) => {
      for (const step of steps.filter((s) => s.host === host && s.layer === "hosts").reverse()) await applyStep(env, step, { which: "delete", secrets: SECRETS });
    });
    for (const host of BALANCERS) {
      // Packages were compared above, where a dependency apt had to upgrade may stay upgraded. lb1
      // was powered off and booted again in between: what a boot changes by itself (first-boot
      // units done, network-online reached) is not a leftover, so its units' run states are left
      // out; its unit files, and everything else, are compared.
      const rebooted = host === "lb1";
      const rest = (fp: string) => fp.split("\n").filter((l) => !l.startsWith("pkg ") && !(rebooted && l.startsWith("unit "))).join("\n");
      expect(fingerprintDiff(rest(pristineHost[host]), rest(await sh(host, hostFingerprintScript()))), host).toEqual([]);
    }
  });
});
