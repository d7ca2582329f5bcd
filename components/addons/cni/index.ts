import type { ClusterModel } from "../../config";
import type { AddonPlan } from "../manifest";
import { planCalico } from "./calico";
import { planFlannel } from "./flannel";

/** The pod network. Always installed: nothing else runs until its DaemonSet is ready (plan.ready). */
export function planCni(model: ClusterModel): AddonPlan {
  return model.addons.cni.plugin === "calico" ? planCalico(model) : planFlannel(model);
}
