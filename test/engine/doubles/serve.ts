/**
 * Entry point of the TEST DOUBLE plugins (engine tier only): `serve.ts command|random ENGINE`
 * serves the double through the nodejs SDK's provider server, the gRPC protocol every
 * resource plugin speaks. plugins.ts installs it as `pulumi-resource-command` 1.2.1 and
 * `pulumi-resource-random` 4.21.2 in the tier's own PULUMI_HOME.
 */
import { main } from "@pulumi/pulumi/provider";
import { commandDouble, COMMAND_TYPE } from "./command-double";
import { randomDouble } from "./random-double";

const [name, ...args] = process.argv.slice(2);
const version = process.env.KOP_DOUBLE_VERSION;
if (!version) throw new Error("KOP_DOUBLE_VERSION is not set (the plugin wrapper sets it)");
const impl = name === "command" ? commandDouble : name === "random" ? randomDouble : undefined;
if (!impl) throw new Error(`no test double named ${name}`);

// The command double serves one type; say so instead of running something else.
const guarded = name !== "command" ? impl : { ...impl, create: (urn: string, inputs: Record<string, unknown>) => {
  const type = urn.split("::")[2].split("$").pop();
  if (type !== COMMAND_TYPE) throw new Error(`command double: ${type} is not implemented (the program uses ${COMMAND_TYPE})`);
  return commandDouble.create(urn, inputs);
} };

void main({ version, ...guarded }, args);
