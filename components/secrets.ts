import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ClusterModel } from "./config";

/**
 * Cluster-wide generated secrets. `keepers` hold cluster:lifecycle.secretsGeneration,
 * so they change only when the user bumps it (rotation on demand), never on their own.
 */
export function clusterSecrets(model: ClusterModel, parent: pulumi.Resource): Record<string, pulumi.Output<string>> {
  const keepers = { generation: String(model.lifecycle.secretsGeneration) };
  const opts = { parent };
  // kubeadm bootstrap tokens are [a-z0-9]{6}.[a-z0-9]{16}.
  const tokenId = new random.RandomPassword("bootstrap-token-id", { length: 6, upper: false, special: false, keepers }, opts);
  const tokenSecret = new random.RandomPassword("bootstrap-token-secret", { length: 16, upper: false, special: false, keepers }, opts);
  // kubeadm's certificate key: 64 hex digits (an AES-256 key for the uploaded certs). A RandomPassword
  // over the hex alphabet, not RandomBytes: RandomBytes keeps its value, base64, as its resource id,
  // which the state holds in plain text.
  const certificateKey = new random.RandomPassword(
    "certificate-key",
    { length: 64, upper: false, lower: false, numeric: true, special: true, overrideSpecial: "abcdef", keepers },
    opts,
  );
  const secrets: Record<string, pulumi.Output<string>> = {
    bootstrap_token: pulumi.secret(pulumi.interpolate`${tokenId.result}.${tokenSecret.result}`),
    certificate_key: pulumi.secret(certificateKey.result),
  };
  if (model.loadBalancer.enabled) {
    // VRRP PASS authentication uses at most 8 characters.
    const vrrp = new random.RandomPassword("vrrp-auth", { length: 8, special: false }, opts);
    secrets.vrrp_auth = pulumi.secret(vrrp.result);
  }
  return secrets;
}
