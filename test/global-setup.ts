import type { TestProject } from "vitest/node";
import { startOrigin } from "../support/origin";

/** A real HTTP media origin on loopback for the whole run; its URL reaches workerd as a binding. */
export default async function setup(project: TestProject) {
  const origin = await startOrigin();
  project.provide("originUrl", origin.url);
  project.provide("originAltUrl", origin.altUrl);
  project.provide("closedUrl", origin.closedUrl);
  return () => origin.close();
}
