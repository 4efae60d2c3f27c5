import { describe, expect, it } from "vitest";
import { PermanentError } from "../../src/media/errors";
import { checkMediaUrl } from "../../src/media/url-policy";

const production = {
  mediaHosts: ["aiquickdraw.com", "api.box", "kie.ai", "removeai.ai", "suno.ai", "erweima.ai"],
  localDev: false,
};
const local = { ...production, localDev: true };

describe("media URL policy", () => {
  it.each([
    "https://file.aiquickdraw.com/s/d92a13bf_Instrumental.mp3",
    "https://musicfile.api.box/abc.mp3",
    "https://api.box/abc.mp3",
    "https://cdn1.suno.ai/abc.mp3",
    "https://musicfile.kie.ai/abc",
    "https://MUSICFILE.API.BOX/abc.mp3",
  ])("allows %s", (url) => {
    expect(checkMediaUrl(url, production).href).toBe(new URL(url).href);
  });

  it.each([
    ["http://musicfile.api.box/a.mp3", /only https/],
    ["https://evil.example.com/a.mp3", /not in MEDIA_HOSTS/],
    ["https://evilapi.box/a.mp3", /not in MEDIA_HOSTS/],
    ["https://api.box.evil.com/a.mp3", /not in MEDIA_HOSTS/],
    ["https://user:pass@musicfile.api.box/a.mp3", /credentials/],
    ["https://127.0.0.1/a.mp3", /IP-literal/],
    ["https://169.254.169.254/latest/meta-data", /IP-literal/],
    ["https://[::1]/a.mp3", /IP-literal/],
    ["https://0x7f000001/a.mp3", /IP-literal/],
    ["ftp://musicfile.api.box/a.mp3", /only https/],
    ["file:///etc/passwd", /only https/],
    ["video_url_847715e66259", /not a valid URL/],
    ["", /not a valid URL/],
  ])("refuses %s", (url, reason) => {
    expect(() => checkMediaUrl(url, production)).toThrow(PermanentError);
    expect(() => checkMediaUrl(url, production)).toThrow(reason);
  });

  it("allows plain http from 127.0.0.1 and localhost only in local development", () => {
    expect(checkMediaUrl("http://127.0.0.1:9000/a.mp3", local).port).toBe("9000");
    expect(checkMediaUrl("http://localhost:9000/a.mp3", local).hostname).toBe("localhost");
    expect(() => checkMediaUrl("http://127.0.0.1:9000/a.mp3", production)).toThrow(PermanentError);
    expect(() => checkMediaUrl("http://localhost:9000/a.mp3", production)).toThrow(PermanentError);
  });

  it("does not widen local development to other loopback or private addresses", () => {
    expect(() => checkMediaUrl("http://127.0.0.2:9000/a.mp3", local)).toThrow(/only https/);
    expect(() => checkMediaUrl("https://10.0.0.1/a.mp3", local)).toThrow(/IP-literal/);
    expect(() => checkMediaUrl("http://evil.example/a.mp3", local)).toThrow(/only https/);
  });
});
