import { expect, it } from "vitest";
import { request } from "../helpers/worker";

it("/healthz says whether events are on, and why not, never with a value", async () => {
  expect(await (await request("/healthz")).json()).toEqual({ ok: true, checks: ["token"], events: "on" });

  const noSecret = await request("/healthz", {}, { EVENTS_SECRET: "" });
  expect(noSecret.status).toBe(200);
  expect(await noSecret.json()).toEqual({
    ok: true,
    checks: ["token"],
    events: "misconfigured",
    warnings: ["EVENTS_SECRET is not set: events are recorded but never sent unsigned"],
  });

  const badUrl = await request(
    "/healthz",
    {},
    { EVENTS_URL: "http://backend.example/secret-path", LOCAL_DEV: "false" },
  );
  expect(badUrl.status).toBe(503);
  const body = await badUrl.text();
  expect(JSON.parse(body)).toMatchObject({
    ok: false,
    events: "misconfigured",
    problems: ["EVENTS_URL must be an https URL"],
  });
  expect(body).not.toContain("secret-path");
});
