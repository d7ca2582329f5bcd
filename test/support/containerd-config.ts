/** What the CRI plugins of a dumped containerd config (`containerd config dump`, parsed) hold, in either schema. */
export function criSettings(merged: any): { sandbox: string; systemdCgroup: boolean; configPath: string } {
  const images = merged.plugins["io.containerd.cri.v1.images"];
  if (images) {
    const runtime = merged.plugins["io.containerd.cri.v1.runtime"];
    return {
      sandbox: images.pinned_images.sandbox,
      systemdCgroup: runtime.containerd.runtimes.runc.options.SystemdCgroup,
      configPath: images.registry.config_path,
    };
  }
  const cri = merged.plugins["io.containerd.grpc.v1.cri"];
  return { sandbox: cri.sandbox_image, systemdCgroup: cri.containerd.runtimes.runc.options.SystemdCgroup, configPath: cri.registry.config_path };
}
