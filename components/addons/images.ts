import type { ClusterModel } from "../config";

/**
 * The one place add-on image references are resolved: applies cluster:mirrors.addonImageRegistries
 * ({ "docker.io": "mirror.example.com/dockerhub" }) to a full reference. The longest matching
 * registry prefix wins, so "docker.io/calico" can be mapped apart from the rest of docker.io.
 */
export function addonImage(model: ClusterModel, ref: string): string {
  let best: string | undefined;
  for (const from of Object.keys(model.mirrors.addonImageRegistries)) {
    if (ref.startsWith(`${from}/`) && (best === undefined || from.length > best.length)) best = from;
  }
  return best === undefined ? ref : model.mirrors.addonImageRegistries[best] + ref.slice(best.length);
}
