import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { stackOutputs } from "../../components/outputs";
import { devSection, model } from "./fixtures";
import { clusterGraph } from "./mock-cluster";

const ALWAYS = ["certificateExpiryCommand", "clusterName", "controlPlaneEndpoint", "kubeconfig", "nodes", "steps"];

describe("stack outputs", () => {
  it("exports no output a stack without add-on credentials does not have (the engine warns about undefined ones)", async () => {
    const m = model(devSection());
    const graph = await clusterGraph(m);
    const outputs = stackOutputs(m, graph.result);
    expect(Object.keys(outputs).filter((k) => !ALWAYS.includes(k) && k !== "addons")).toEqual([]);
    expect(Object.values(outputs).filter((v) => v === undefined)).toEqual([]);
  });

  it("exports each add-on credential the stack has", async () => {
    const m = loadStackFile("prod");
    const graph = await clusterGraph(m);
    const keys = Object.keys(stackOutputs(m, graph.result));
    expect(keys).toEqual(expect.arrayContaining([...ALWAYS, "addons", "grafanaAdminPassword", "elasticPassword"]));
  });
});
