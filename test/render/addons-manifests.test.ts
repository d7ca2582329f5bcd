import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { modelFromObject, type ClusterModel } from "../../components/config";
import { SUPPORTED_MINORS } from "../../components/config/kubernetes";
import { alertmanagerConfig, prometheusConfig, prometheusRules } from "../../components/addons/monitoring/scrape";
import { dashboardQueries } from "../../components/addons/monitoring/dashboards";
import { parse, stringify } from "yaml";
import { requireTool, run } from "../support/tools";
import { allAddonsOn, plain, runAddons, stackSection } from "../unit/addons-support";

const VALIDATOR = path.join(__dirname, "addons-validate.py");
const python = process.env.KOP_PYTHON ?? "python3";

function requireValidator(): void {
  requireTool(python, "python3");
  const probe = run(python, ["-c", "import kubernetes_validate, jsonschema"]);
  if (probe.code !== 0) {
    throw new Error(`the Python package kubernetes-validate is missing: run \`${python} -m pip install kubernetes-validate==1.37.0\` (.ci/run does this)\n${probe.stderr}`);
  }
}

interface Result {
  key: string;
  validator: string | null;
  error: string | null;
}

/** Every object the add-ons send for `model`, taken from the mocks' resource registrations. */
async function renderedObjects(model: ClusterModel): Promise<object[]> {
  const { objects } = await runAddons(model, { preview: false });
  return [...objects.values()].map((r) => plain(r.inputs));
}

function validate(versions: string[], objects: object[]): Record<string, Result[]> {
  const out = run(python, [VALIDATOR], JSON.stringify({ versions, objects }));
  if (out.code !== 0) throw new Error(`validator failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as Record<string, Result[]>;
}

/**
 * The supported Kubernetes minors (components/config/kubernetes.ts), as the x.y.0 schema versions the validator
 * has. kubernetes-validate 1.37.0 ships schemas for 1.25 to 1.37, so today that is every supported minor; a
 * supported minor it lacks fails the test rather than going unchecked.
 */
function supportedSchemaVersions(): string[] {
  requireValidator();
  const out = run(python, [VALIDATOR, "--versions"]);
  if (out.code !== 0) throw new Error(`validator failed: ${out.stderr}`);
  const shipped = new Set(JSON.parse(out.stdout) as string[]);
  const wanted: string[] = [];
  for (let minor = SUPPORTED_MINORS.min; minor <= SUPPORTED_MINORS.max; minor++) wanted.push(`1.${minor}.0`);
  const missing = wanted.filter((v) => !shipped.has(v));
  if (missing.length) throw new Error(`kubernetes-validate has no schemas for supported Kubernetes ${missing.join(", ")}: install a newer kubernetes-validate (scripts/install-test-deps.sh)`);
  return wanted;
}

const variants: Array<[string, () => ClusterModel]> = [
  ["prod (calico, gateway on host network, Headlamp)", () => modelFromObject(stackSection("prod"), "prod")],
  ["china with every add-on (flannel)", () => modelFromObject(allAddonsOn(stackSection("china")), "china")],
  [
    "dev with NFS, gateway behind MetalLB with TLS, Headlamp admin",
    () => {
      const s = allAddonsOn(stackSection("dev"));
      s.addons.storage = { provisioner: "nfs", nfs: { server: "192.168.56.50", path: "/exports/k8s" } };
      s.addons.gateway.mode = "loadBalancer";
      s.addons.gateway.tlsSecretName = "wildcard-tls";
      s.addons.metallb.addresses = ["192.168.56.200/29"];
      s.addons.logging.kibana = { ingressHost: "kibana.dev.example.com" };
      s.addons.monitoring.grafana = { ingressHost: "grafana.dev.example.com" };
      s.addons.metricsServer.kubeletInsecureTls = true;
      return modelFromObject(s, "dev");
    },
  ],
];

const MINORS = `1.${SUPPORTED_MINORS.min} to 1.${SUPPORTED_MINORS.max}`;

describe(`add-on manifests against the Kubernetes OpenAPI schemas of every supported minor (${MINORS})`, () => {
  it.each(variants)(`%s: every object validates against Kubernetes ${MINORS} (strict: no unknown fields)`, async (_, build) => {
    const versions = supportedSchemaVersions();
    const objects = await renderedObjects(build());
    const byVersion = validate(versions, objects);
    expect(Object.keys(byVersion)).toEqual(versions);
    for (const version of versions) {
      const results = byVersion[version];
      expect(results.length).toBe(objects.length);
      expect(results.filter((r) => r.validator === null || r.error !== null), version).toEqual([]);
      // Custom resources were checked against the CRDs shipped with them, everything else against that Kubernetes.
      const minor = version.split(".").slice(0, 2).join(".");
      for (const r of results) expect(r.validator, `${version} ${r.key}`).toMatch(new RegExp(`^(kubernetes ${minor.replace(".", "\\.")} \\(strict\\)|CRD openAPIV3Schema)$`));
    }
    // The Gateway API objects are among them, checked against the Gateway API CRDs.
    const kinds = new Set(byVersion[versions[0]].filter((r) => r.validator === "CRD openAPIV3Schema").map((r) => r.key.split("/")[0]));
    expect([...kinds]).toEqual(expect.arrayContaining(["GatewayClass", "Gateway"]));
  });

  it("the validator rejects an unknown field and a custom resource that breaks its CRD", async () => {
    const [version] = supportedSchemaVersions().slice(-1);
    const objects = (await renderedObjects(modelFromObject(stackSection("prod"), "prod"))) as any[];
    const ds = structuredClone(objects.find((o) => o.kind === "DaemonSet"));
    ds.spec.template.spec.containers[0].imagePullPolcy = "Always";
    const pool = structuredClone(objects.find((o) => o.kind === "IPAddressPool"));
    pool.spec = { addresses: "10.20.0.200-10.20.0.220" };
    const gateway = structuredClone(objects.find((o) => o.kind === "Gateway"));
    gateway.spec.listeners[0].port = "eighty";
    delete gateway.spec.gatewayClassName;
    const crd = (name: string) => objects.find((o) => o.kind === "CustomResourceDefinition" && o.metadata.name === name);
    const results = validate([version], [ds, crd("ipaddresspools.metallb.io"), pool, crd("gateways.gateway.networking.k8s.io"), gateway])[version];
    expect(results[0].error).toMatch(/imagePullPolcy/);
    expect(results[1].error).toBeNull();
    expect(results[2].error).toMatch(/is not of type 'array'/);
    expect(results[3].error).toBeNull();
    expect(results[4].error).toMatch(/'gatewayClassName' is a required property/);
    expect(results[4].error).toMatch(/'eighty' is not of type 'integer'/);
  });
});

describe("monitoring configuration checked by Prometheus' and Alertmanager's own tools", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "kop-addons-render-"));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
  const write = (name: string, content: string) => {
    const file = path.join(work, name);
    fs.writeFileSync(file, content);
    return file;
  };

  /**
   * Debian builds Prometheus without the Kubernetes service discovery, so its promtool rejects
   * kubernetes_sd_configs. Those blocks are swapped for static targets (after checking that they only use
   * the role and namespaces fields); everything else (relabelling, TLS, authorization, rules) is checked as is.
   */
  function withoutKubernetesDiscovery(text: string): string {
    const config = parse(text) as { scrape_configs: Array<Record<string, unknown>> };
    for (const job of config.scrape_configs) {
      const sd = job.kubernetes_sd_configs as Array<Record<string, unknown>> | undefined;
      if (!sd) continue;
      for (const entry of sd) {
        expect(["endpoints", "node"]).toContain(entry.role);
        expect(Object.keys(entry).filter((k) => k !== "role" && k !== "namespaces")).toEqual([]);
      }
      delete job.kubernetes_sd_configs;
      job.static_configs = [{ targets: ["discovered.invalid:443"] }];
    }
    return stringify(config);
  }

  it("promtool accepts prometheus.yml for stacked and external etcd", () => {
    requireTool("promtool", "prometheus");
    for (const stack of ["prod", "china"]) {
      const model = modelFromObject(allAddonsOn(stackSection(stack)), stack);
      const file = write(`prometheus-${stack}.yml`, withoutKubernetesDiscovery(prometheusConfig(model)));
      const out = run("promtool", ["check", "config", "--syntax-only", file]);
      expect(out.code, `${out.stdout}${out.stderr}`).toBe(0);
    }
  });

  it("promtool accepts the alert rules", () => {
    requireTool("promtool", "prometheus");
    const out = run("promtool", ["check", "rules", write("alerts.yml", prometheusRules())]);
    expect(out.code, `${out.stdout}${out.stderr}`).toBe(0);
    expect(out.stdout).toMatch(/SUCCESS: 7 rules found/);
  });

  it("every dashboard query is valid PromQL (checked as recording rules)", () => {
    requireTool("promtool", "prometheus");
    const queries = dashboardQueries();
    const rules = { groups: [{ name: "dashboards", rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr })) }] };
    const out = run("promtool", ["check", "rules", write("dashboards.yml", stringify(rules))]);
    expect(out.code, `${out.stdout}${out.stderr}`).toBe(0);
    expect(out.stdout).toContain(`SUCCESS: ${queries.length} rules found`);
  });

  it("amtool accepts alertmanager.yml", () => {
    requireTool("amtool", "prometheus-alertmanager");
    const out = run("amtool", ["check-config", write("alertmanager.yml", alertmanagerConfig())]);
    expect(out.code, `${out.stdout}${out.stderr}`).toBe(0);
  });
});
