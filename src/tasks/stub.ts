/** The Durable Object that owns `taskId` (one per task, addressed by name). */
export const taskStub = (env: Env, taskId: string) => env.TASKS.getByName(taskId);
