import type { Config } from "./config";

/** The Hono environment of every router: the Worker's bindings and the validated settings. */
export type AppEnv = {
  Bindings: Env;
  Variables: { config: Config };
};
