export * from "./errors";
export * from "./model";
export * from "./load";
export { stackConfigSchema, type StackConfig, type StackConfigInput } from "./schema";
export { ETCD_MEMBER_COUNTS } from "./validate";
export { SUPPORTED_MINORS } from "./kubernetes";
export type { Role } from "./hosts";
