import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { modelFromObject, type ClusterModel } from "../../components/config";
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

function validate(version: string, objects: object[]): Result[] {
  const out = run(python, [VALIDATOR], JSON.stringify({ version, objects }));
  if (out.code !== 0) throw new Error(`validator failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as Result[];
}

const variants: Array<[string, () => ClusterModel]> = [
  ["prod (calico, Kubernetes 1.31)", () => modelFromObject(stackSection("prod"), "prod")],
  ["china with every add-on (flannel, Kubernetes 1.29)", () => modelFromObject(allAddonsOn(stackSection("china")), "china")],
  [
    "dev with NFS, ingress behind MetalLB, dashboard admin (Kubernetes 1.34)",
    () => {
      const s = allAddonsOn(stackSection("dev"));
      s.kubernetes.version = "1.34.1";
      s.addons.storage = { provisioner: "nfs", nfs: { server: "192.168.56.50", path: "/exports/k8s" } };
      s.addons.ingressNginx.mode = "loadBalancer";
      s.addons.metallb.addresses = ["192.168.56.200/29"];
      s.addons.logging.kibana = { ingressHost: "kibana.dev.example.com" };
      s.addons.monitoring.grafana = { ingressHost: "grafana.dev.example.com" };
      s.addons.metricsServer.kubeletInsecureTls = true;
      return modelFromObject(s, "dev");
    },
  ],
];

describe("add-on manifests against the Kubernetes OpenAPI schemas of the configured version", () => {
  it.each(variants)("%s: every object validates (strict: no unknown fields)", async (_, build) => {
    requireValidator();
    const model = build();
    const objects = await renderedObjects(model);
    const results = validate(model.kubernetes.version, objects);
    expect(results.length).toBe(objects.length);
    expect(results.filter((r) => r.validator === null || r.error !== null)).toEqual([]);
    // Custom resources were checked against the CRDs shipped with them, everything else against Kubernetes.
    const minor = model.kubernetes.version.split(".").slice(0, 2).join(".");
    for (const r of results) expect(r.validator, r.key).toMatch(new RegExp(`^(kubernetes ${minor.replace(".", "\\.")} \\(strict\\)|CRD openAPIV3Schema)$`));
  });

  it("the validator rejects an unknown field and a custom resource that breaks its CRD", async () => {
    requireValidator();
    const model = modelFromObject(stackSection("prod"), "prod");
    const objects = (await renderedObjects(model)) as any[];
    const ds = structuredClone(objects.find((o) => o.kind === "DaemonSet"));
    ds.spec.template.spec.containers[0].imagePullPolcy = "Always";
    const pool = structuredClone(objects.find((o) => o.kind === "IPAddressPool"));
    pool.spec = { addresses: "10.20.0.200-10.20.0.220" };
    const crd = objects.find((o) => o.kind === "CustomResourceDefinition" && o.metadata.name === "ipaddresspools.metallb.io");
    const results = validate(model.kubernetes.version, [ds, crd, pool]);
    expect(results[0].error).toMatch(/imagePullPolcy/);
    expect(results[1].error).toBeNull();
    expect(results[2].error).toMatch(/is not of type 'array'/);
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
