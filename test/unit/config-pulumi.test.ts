import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { modelFromPulumiConfig } from "../../components/config/pulumi";
import { runUnderMocks } from "../../scripts/lib/mock-program";
import { pulumiConfigEntries, stackSection } from "../../scripts/bench/topology";

/** The prod stack's config as the engine hands it to the program, without the SSH key. */
function prodConfigWithoutKey(): Record<string, string> {
  const { config } = pulumiConfigEntries(stackSection("prod"));
  delete config["cluster:sshPrivateKey"];
  return config;
}

describe("the SSH key through the Pulumi config", () => {
  it("is not needed for a preview, which connects to no host", async () => {
    pulumi.runtime.setAllConfig(prodConfigWithoutKey(), []);
    const graph = await runUnderMocks(() => modelFromPulumiConfig(), { preview: true, stack: "prod" });
    expect(graph.result.model.hosts.length).toBeGreaterThan(0);
    expect(graph.result.sshPrivateKey).toBeUndefined();
  });

  it("is refused by `pulumi up` with the message that names the keys to set", async () => {
    pulumi.runtime.setAllConfig(prodConfigWithoutKey(), []);
    await expect(runUnderMocks(() => modelFromPulumiConfig(), { preview: false, stack: "prod" })).rejects.toThrow(
      /cluster:hosts\[0\][^:]*ssh\.privateKeyPath: no SSH key: set cluster:sshPrivateKey \(secret\), cluster:ssh\.privateKeyPath or this key/,
    );
  });
});
