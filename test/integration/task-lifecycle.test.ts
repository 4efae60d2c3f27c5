import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { TaskStatus } from "../../src/tasks/status";
import kieMusicComplete from "../../support/fixtures/kie.music.complete.json";
import splitStem from "../../support/fixtures/sunoapi.separation.split-stem.json";
import { waitForIndexedStatus } from "../helpers/index";
import { atOrigin, expectedSha256, originHits } from "../helpers/media";
import { getStatus, postCallback, settled, uniqueId, waitForStatus, withTaskId } from "../helpers/worker";

type Track = (typeof kieMusicComplete)["data"]["data"][number];

/** text → first → complete bodies of one music task, with consistent URLs on the local origin. */
function musicStages(taskId: string) {
  const { body: complete, files } = atOrigin(withTaskId(kieMusicComplete, taskId));
  const [one, two] = complete.data.data as [Track, Track];
  const stage = (callbackType: string, msg: string, data: Track[]) => ({
    code: 200,
    msg,
    data: { callbackType, task_id: taskId, data },
  });
  return {
    files,
    tracks: [one, two],
    text: stage("text", "Text generation completed successfully.", []),
    first: stage("first", "First track generated successfully.", [
      one,
      { ...two, audio_url: "", image_url: "" },
    ]),
    complete,
  };
}

const sentMessages = (taskId: string) =>
  runInDurableObject(env.TASKS.get(env.TASKS.idFromName(taskId)), (_instance, state) =>
    state.storage.sql
      .exec<{ name: string; messages_sent: number; state: string; enqueue_until: number | null }>(
        "SELECT name, messages_sent, state, enqueue_until FROM assets ORDER BY name",
      )
      .toArray(),
  );

/** The assets' rows once the send that follows a callback's answer is over (no send lease left). */
const sendSettled = (taskId: string) =>
  vi.waitFor(async () => {
    const rows = await sentMessages(taskId);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((row) => row.enqueue_until === null)).toBe(true);
    return rows;
  });

const post = async (body: unknown) => {
  const response = await postCallback(body);
  expect(response.status).toBe(200);
  return (await response.json()) as { duplicate: boolean };
};

describe("a music task through its stages", () => {
  it("reports the right status after text, first, complete, and archives it", async () => {
    const taskId = uniqueId("music");
    const { text, first, complete, tracks, files } = musicStages(taskId);
    const [one, two] = tracks as [Track, Track];

    await post(text);
    let status = await getStatus(taskId);
    expect(status).toMatchObject({
      taskId,
      kind: "music",
      state: "in_progress",
      stage: "text",
      providerCode: 200,
      providerMessage: "Text generation completed successfully.",
      callbacks: { received: 1, distinct: 1, duplicates: 0 },
      archive: { state: "none", stored: 0, total: 0, bytes: 0 },
      tracks: [],
      assets: [],
    });
    expect(Date.parse(status.callbacks.firstAt ?? "")).toBeGreaterThan(0);

    await post(first);
    status = await getStatus(taskId);
    expect(status).toMatchObject({
      state: "in_progress",
      stage: "first",
      callbacks: { received: 2, distinct: 2 },
    });
    expect(status.tracks.map((track) => track.id)).toEqual([one.id, two.id]);
    expect(status.tracks[0]).toMatchObject({
      title: one.title,
      modelName: one.model_name,
      duration: one.duration,
    });
    expect(status.assets.map((asset) => [asset.name, asset.role, asset.sourceUrl])).toEqual([
      [`${one.id}/audio`, "audio", one.audio_url],
      [`${one.id}/cover`, "cover", one.image_url],
    ]);
    expect(status.archive.state).toBe("archiving");

    await post(complete);
    status = await getStatus(taskId);
    expect(status).toMatchObject({
      state: "succeeded",
      stage: "complete",
      providerMessage: complete.msg,
      callbacks: { received: 3, distinct: 3, duplicates: 0 },
    });
    // The timeline: one entry per distinct callback, oldest first, with the provider's words.
    expect(status.callbacks.history.map((entry) => [entry.stage, entry.code, entry.message])).toEqual([
      ["text", 200, text.msg],
      ["first", 200, first.msg],
      ["complete", 200, complete.msg],
    ]);
    expect(status.assets.map((asset) => asset.name)).toEqual([
      `${one.id}/audio`,
      `${one.id}/cover`,
      `${two.id}/audio`,
      `${two.id}/cover`,
    ]);
    for (const asset of status.assets) {
      expect(["queued", "downloading", "stored"]).toContain(asset.state);
      expect(asset.via).toBe("callback");
    }

    status = await waitForStatus(taskId, settled);
    const sizes = [...files.values()].reduce((sum, file) => sum + file.size, 0);
    expect(status.archive).toEqual({ state: "archived", stored: 4, failed: 0, total: 4, bytes: sizes });
    for (const asset of status.assets) {
      const file = files.get(asset.sourceUrl ?? "");
      if (!file) throw new Error(`no served file for ${asset.sourceUrl}`);
      const [trackId, role] = asset.name.split("/");
      const ext = role === "audio" ? "mp3" : "jpeg";
      expect(asset).toMatchObject({
        state: "stored",
        key: `music/${taskId}/${trackId}/${role}.${ext}`,
        bytes: file.size,
        sha256: await expectedSha256(file),
        contentType: role === "audio" ? "audio/mpeg" : "image/jpeg",
        attempts: 1,
        error: null,
      });
    }
    const hits = await originHits();
    for (const url of files.keys()) expect(hits.get(url), url).toBe(1);
  });

  it("ignores a late first after complete, and a late error", async () => {
    const taskId = uniqueId("late");
    const { first, complete } = musicStages(taskId);
    await post(complete);
    const before = await getStatus(taskId);

    const lateFirst = { ...first, msg: "First track generated successfully (late)." };
    expect(await post(lateFirst)).toEqual(expect.objectContaining({ duplicate: false }));
    await post({
      code: 501,
      msg: "Audio generation failed",
      data: { callbackType: "error", task_id: taskId, data: null },
    });

    const after = await getStatus(taskId);
    expect(after).toMatchObject({
      state: "succeeded",
      stage: "complete",
      providerCode: 200,
      providerMessage: before.providerMessage,
      callbacks: { received: 3, distinct: 3 },
    });
    expect(after.assets.map((asset) => asset.name)).toEqual(before.assets.map((asset) => asset.name));
    expect(after.tracks).toEqual(before.tracks);
  });

  it("lets complete override an earlier error", async () => {
    const taskId = uniqueId("recovered");
    const { complete } = musicStages(taskId);
    await post({
      code: 531,
      msg: "Server error",
      data: { callbackType: "error", task_id: taskId, data: null },
    });
    expect((await getStatus(taskId)).state).toBe("failed");
    await post(complete);
    expect(await getStatus(taskId)).toMatchObject({ state: "succeeded", stage: "complete" });
  });

  it("adds an asset whose URL was empty at first once complete brings it", async () => {
    const taskId = uniqueId("fill");
    const { first, complete, tracks } = musicStages(taskId);
    await post(first);
    expect((await getStatus(taskId)).assets).toHaveLength(2);
    await post(complete);
    const status = await getStatus(taskId);
    const secondAudio = status.assets.find((asset) => asset.name === `${tracks[1]?.id}/audio`);
    expect(secondAudio?.sourceUrl).toBe(tracks[1]?.audio_url);
    expect((await sentMessages(taskId)).every((row) => row.messages_sent === 1)).toBe(true);
  });
});

describe("duplicate deliveries", () => {
  it("records a callback sent 5 times once, and enqueues each asset once", async () => {
    const taskId = uniqueId("dup");
    const { body, files } = atOrigin(withTaskId(splitStem, taskId));
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await post(body));
    expect(answers.map((answer) => answer.duplicate)).toEqual([false, true, true, true, true]);

    await waitForStatus(taskId, settled);
    // Through the API, as a user reads it: repeats answered from memory are counted by then.
    const status = await getStatus(taskId);
    expect(status.callbacks).toMatchObject({ received: 5, distinct: 1, duplicates: 4 });
    expect(status.callbacks.history).toEqual([
      expect.objectContaining({ stage: "complete", code: 200, duplicates: 4 }),
    ]);
    expect(status.archive).toMatchObject({ state: "archived", stored: 12, total: 12 });
    const sent = await sentMessages(taskId);
    expect(sent).toHaveLength(12);
    expect(sent.every((row) => row.messages_sent === 1)).toBe(true);
    const hits = await originHits();
    for (const url of files.keys()) expect(hits.get(url), url).toBe(1);
  });

  it("treats the same content with different formatting as a duplicate", async () => {
    const taskId = uniqueId("fmt");
    const { body } = atOrigin(withTaskId(splitStem, taskId));
    expect((await postCallback(null, { raw: JSON.stringify(body) })).status).toBe(200);
    const again = await postCallback(null, { raw: JSON.stringify(body, null, 2) });
    expect(await again.json()).toMatchObject({ duplicate: true });
  });

  it("records 50 concurrent deliveries of one callback once, with one message per asset", async () => {
    const taskId = uniqueId("burst");
    const { body, files } = atOrigin(withTaskId(kieMusicComplete, taskId));
    const responses = await Promise.all(Array.from({ length: 50 }, () => postCallback(body)));
    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(200));
    const answers = await Promise.all(
      responses.map((response) => response.json() as Promise<{ duplicate: boolean }>),
    );
    expect(answers.filter((answer) => !answer.duplicate)).toHaveLength(1);

    await waitForStatus(taskId, settled);
    const status: TaskStatus = await getStatus(taskId);
    expect(status.callbacks).toMatchObject({ received: 50, distinct: 1, duplicates: 49 });
    expect(status.archive).toMatchObject({ state: "archived", stored: 4, total: 4 });
    const sent = await sentMessages(taskId);
    expect(sent.map((row) => row.messages_sent)).toEqual([1, 1, 1, 1]);
    const hits = await originHits();
    for (const url of files.keys()) expect(hits.get(url), url).toBe(1);
  });
});

describe("the watchdog alarm", () => {
  it("is set for when a message or a lease could be lost, not the send lease's expiry, and is cleared once archived", async () => {
    const taskId = uniqueId("alarm");
    // The origin answers only after 3 s, so the assets are still queued or downloading below.
    const { body } = atOrigin(withTaskId(kieMusicComplete, taskId), { delayMs: 3000 });
    const before = Date.now();
    expect((await postCallback(body)).status).toBe(200);
    // A queued asset's message counts as lost a minute after it was due, a download's lease ends
    // a minute after its last heartbeat: either way not sooner (not at the 30 s send lease).
    const stub = env.TASKS.get(env.TASKS.idFromName(taskId));
    // (Until D1 confirms the task's index row, the alarm also stands by for that write.)
    const { alarm, indexDue } = await runInDurableObject(stub, async (_, state) => ({
      alarm: await state.storage.getAlarm(),
      indexDue:
        state.storage.sql
          .exec<{ due: number | null }>(
            "SELECT MAX(due_at) AS due FROM index_sync WHERE version > synced_version",
          )
          .one().due ?? null,
    }));
    expect((await getStatus(taskId)).archive.state).toBe("archiving");
    expect(alarm).not.toBeNull();
    if (indexDue !== null) {
      expect(alarm as number).toBeLessThanOrEqual(Math.max(indexDue, Date.now() + 1000));
    } else {
      expect(alarm as number).toBeGreaterThanOrEqual(before + 60_000 - 1000); // kept if < 1 s early
      expect(alarm as number).toBeLessThanOrEqual(Date.now() + 61_000);
    }
    // Archived and finished: nothing left for the watchdog, so no alarm at all once the index
    // has the final row.
    expect((await waitForStatus(taskId, settled)).archive.state).toBe("archived");
    await waitForIndexedStatus(taskId);
    let left: number | null = -1;
    for (let i = 0; i < 20 && left !== null; i++) {
      left = await runInDurableObject(stub, (_, state) => state.storage.getAlarm());
      if (left !== null) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(left).toBeNull();
  });
});

describe("a failed enqueue", () => {
  /** A music task whose object's next queue send fails (fault injection on the real binding). */
  async function taskWhoseNextSendFails(prefix: string) {
    const taskId = uniqueId(prefix);
    const { body } = atOrigin(withTaskId(kieMusicComplete, taskId));
    const stub = env.TASKS.get(env.TASKS.idFromName(taskId));
    await runInDurableObject(stub, (instance) => {
      const queue = (instance as unknown as { env: Env }).env.MEDIA_QUEUE;
      vi.spyOn(queue, "sendBatch").mockRejectedValueOnce(new Error("queue unavailable"));
    });
    return { taskId, body, stub };
  }

  it("answers 200 once recorded, keeps the callback, and the alarm sends what the send could not", async () => {
    const { taskId, body, stub } = await taskWhoseNextSendFails("sendfail");
    const answer = await postCallback(body);
    // The answer waits for the record, not for the queue: the outbox was committed with it.
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ taskId, duplicate: false });
    // The send after the answer failed: nothing was sent, the leases are gone, the assets are
    // pending, and the alarm is armed to send them within seconds.
    const rows = await sendSettled(taskId);
    expect(rows.map((row) => [row.messages_sent, row.state, row.enqueue_until])).toEqual(
      Array(4).fill([0, "pending", null]),
    );
    expect((await getStatus(taskId)).callbacks).toMatchObject({ received: 1, distinct: 1 });
    const alarm = await runInDurableObject(stub, (_, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect((alarm as number) - Date.now()).toBeLessThanOrEqual(10_000);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const status = await waitForStatus(taskId, settled);
    expect(status.archive).toMatchObject({ state: "archived", stored: 4 });
    expect((await sentMessages(taskId)).map((row) => row.messages_sent)).toEqual([1, 1, 1, 1]);
    const hits = await originHits();
    for (const asset of status.assets) expect(hits.get(asset.sourceUrl ?? "")).toBe(1);
  });

  it("is redone at once by the provider's retry (a duplicate delivery) after a failed send", async () => {
    const { taskId, body } = await taskWhoseNextSendFails("sendfail-dup");
    expect((await postCallback(body)).status).toBe(200);
    await sendSettled(taskId);
    const again = await postCallback(body);
    expect(await again.json()).toMatchObject({ duplicate: true });
    const status = await waitForStatus(taskId, settled);
    expect(status.archive).toMatchObject({ state: "archived", stored: 4 });
    expect((await sentMessages(taskId)).map((row) => row.messages_sent)).toEqual([1, 1, 1, 1]);
  });
});
