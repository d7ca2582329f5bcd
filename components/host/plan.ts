import type { ClusterModel } from "../config";
import { stepId, type StepSpec } from "../remote/step";
import { renderHostsFile } from "./hosts-file";
import { renderOsPrep } from "./prep";

export const osPrepId = (host: string) => stepId(host, "os-prep");
export const hostsFileId = (host: string) => stepId(host, "hosts-file");

/** Every host: OS preparation, then its /etc/hosts entries. Hosts prepare in parallel. */
export function planHosts(model: ClusterModel): StepSpec[] {
  return model.hosts.flatMap((host): StepSpec[] => {
    const prep = renderOsPrep(model, host);
    const hostsFile = renderHostsFile(model, host);
    return [
      {
        id: osPrepId(host.name),
        host: host.name,
        layer: "hosts",
        description: "preflight checks, swap off, kernel modules, sysctls, time sync, hostname",
        script: prep.script,
        deleteScript: prep.deleteScript,
        files: prep.files,
        needs: [],
        secrets: [],
        timeouts: { create: "15m", update: "15m", delete: "5m" },
      },
      {
        id: hostsFileId(host.name),
        host: host.name,
        layer: "hosts",
        description: "/etc/hosts entries for the control planes and the endpoint name",
        script: hostsFile.script,
        deleteScript: hostsFile.deleteScript,
        files: [],
        needs: [osPrepId(host.name)],
        secrets: [],
        timeouts: { create: "2m", update: "2m", delete: "2m" },
      },
    ];
  });
}
