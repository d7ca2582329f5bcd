import { ConfigError, loadStackFile, StackFileError, type ClusterModel } from "../../components/config";

/**
 * The model of stacks/Pulumi.<stack>.yaml for a command-line tool, or undefined after printing
 * why it cannot be read (config problems, missing stack file); other errors propagate.
 */
export function loadStackForCli(stack: string, projectDir?: string): ClusterModel | undefined {
  try {
    return loadStackFile(stack, { projectDir });
  } catch (e) {
    if (e instanceof ConfigError || e instanceof StackFileError || (e as NodeJS.ErrnoException).code === "ENOENT") {
      console.error((e as Error).message);
      return undefined;
    }
    throw e;
  }
}
