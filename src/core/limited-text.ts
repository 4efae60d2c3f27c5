/**
 * A body read as text, at most `limit` bytes of it: past that the rest is cancelled, never read
 * or held, and `overflow` says so (the caller refuses the body, or keeps what came).
 */
export async function readLimitedText(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<{ text: string; overflow: boolean }> {
  if (!body) return { text: "", overflow: false };
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > limit) {
      await reader.cancel();
      return { text: text + decoder.decode(), overflow: true };
    }
    text += decoder.decode(value, { stream: true });
  }
  return { text: text + decoder.decode(), overflow: false };
}
