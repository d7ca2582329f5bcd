import { describe, expect, it } from "vitest";
import { enabledAddons } from "../../components/addons";
import { loadStackFile, modelFromObject } from "../../components/config";
import { stackOutputs } from "../../components/outputs";
import { stackSection } from "./addons-support";
import { devSection, model } from "./fixtures";
import { clusterGraph } from "./mock-cluster";

/**
 * The prod stack's whole program graph (what `npm run graph -- prod` prints) has the Gateway API implementation
 * and Headlamp, and nothing of the retired ingress-nginx and Kubernetes Dashboard.
 */
describe("the prod stack's graph: Gateway API and Headlamp, nothing retired", () => {
  it("declares the Gateway API CRDs, GatewayClass, Gateway, HTTPRoutes and Traefik, Headlamp, and no ingress-nginx or Dashboard object", async () => {
    const graph = await clusterGraph(loadStackFile("prod"));
    const k8s = graph.custom.filter((r) => r.type.startsWith("kubernetes:"));
    const names = (type: string) => k8s.filter((r) => r.type === type).map((r) => r.name).sort();

    expect(names("kubernetes:gateway.networking.k8s.io/v1:GatewayClass")).toEqual(["traefik"]);
    expect(names("kubernetes:gateway.networking.k8s.io/v1:Gateway")).toEqual(["gateway-system/default"]);
    expect(names("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")).toEqual(["logging/kibana", "monitoring/grafana"]);
    expect(names("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition").filter((n) => n.endsWith(".gateway.networking.k8s.io"))).toEqual(
      ["backendtlspolicies", "gatewayclasses", "gateways", "grpcroutes", "httproutes", "listenersets", "referencegrants", "tlsroutes"].map((p) => `${p}.gateway.networking.k8s.io`),
    );
    expect(names("kubernetes:apps/v1:DaemonSet")).toContain("gateway-system/traefik");
    expect(names("kubernetes:apps/v1:Deployment")).toContain("headlamp/headlamp");
    expect(names("kubernetes:core/v1:Service")).toContain("headlamp/headlamp");
    expect(graph.resources.map((r) => r.type)).toEqual(expect.arrayContaining(["kop:addons:Gateway", "kop:addons:Headlamp"]));

    const retired = /ingress-nginx|kubernetes-dashboard|dashboard-metrics-scraper|dashboard-viewer|dashboard-admin/;
    expect(k8s.filter((r) => retired.test(r.name)).map((r) => r.name)).toEqual([]);
    expect(k8s.filter((r) => /:(Ingress|IngressClass)$/.test(r.type)).map((r) => r.name)).toEqual([]);
    expect(graph.resources.filter((r) => /IngressNginx|Dashboard/.test(r.type)).map((r) => r.type)).toEqual([]);
  });

  it("loads every stack (none sets a retired key) and turns on only maintained add-ons by default", () => {
    for (const stack of ["dev", "prod", "china"]) {
      const on = enabledAddons(loadStackFile(stack));
      expect(on.filter((a) => /ingress|dashboard/.test(a)), stack).toEqual([]);
    }
    expect(enabledAddons(model(devSection()))).toEqual(["cni", "csr-approver", "metrics-server", "storage"]);
  });

  it("exports headlampAdminToken only with headlamp.adminAccount, and no output of the retired Dashboard", async () => {
    const prod = loadStackFile("prod");
    const without = Object.keys(stackOutputs(prod, (await clusterGraph(prod)).result));
    expect(without.filter((k) => /headlamp|dashboard/i.test(k))).toEqual([]);
    const section = stackSection("prod");
    section.addons.headlamp.adminAccount = true;
    const admin = modelFromObject(section, "prod");
    const withAdmin = Object.keys(stackOutputs(admin, (await clusterGraph(admin)).result));
    expect(withAdmin.filter((k) => /headlamp|dashboard/i.test(k))).toEqual(["headlampAdminToken"]);
  });
});
