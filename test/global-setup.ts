import type { TestProject } from "vitest/node";
import { createFakeProvider } from "../support/fake-provider";
import { startOrigin } from "../support/origin";

/** The API key vitest.config.ts gives the Worker as PROVIDER_API_KEY; the fake provider takes it. */
export const TEST_PROVIDER_KEY = "test-provider-key";

/**
 * A real HTTP media origin on loopback for the whole run; its URL reaches workerd as a binding.
 * It is also the provider: scripted record-info, and the fake submit endpoints, which hold the
 * callbacks of each job for the test to post (workerd's Worker is not reachable from Node).
 */
export default async function setup(project: TestProject) {
  const origin = await startOrigin();
  const provider = createFakeProvider({ originUrl: origin.url, apiKey: TEST_PROVIDER_KEY, deliver: "hold" });
  origin.setProviderHandler(provider.handle);
  origin.setControlHandler(provider.control);
  project.provide("originUrl", origin.url);
  project.provide("originAltUrl", origin.altUrl);
  project.provide("closedUrl", origin.closedUrl);
  return () => origin.close();
}
