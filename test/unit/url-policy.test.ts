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

describe("media URL policy against the probe's spellings", () => {
  it.each([
    // IPv4 in every notation the URL parser folds into a dotted quad
    ["https://2130706433/a.mp3", /IP-literal/],
    ["https://0177.0.0.1/a.mp3", /IP-literal/],
    ["https://0x7f.0x0.0x0.0x1/a.mp3", /IP-literal/],
    ["https://0x7f.1/a.mp3", /IP-literal/],
    ["https://127.1/a.mp3", /IP-literal/],
    ["https://0/a.mp3", /IP-literal/],
    ["https://017700000001/a.mp3", /IP-literal/],
    ["https://10.0.0.1/a.mp3", /IP-literal/],
    ["https://192.168.1.1./a.mp3", /IP-literal/],
    ["https://%31%32%37.0.0.1/a.mp3", /IP-literal/],
    // IPv6 forms
    ["https://[::]/a.mp3", /IP-literal/],
    ["https://[0:0:0:0:0:0:0:1]/a.mp3", /IP-literal/],
    ["https://[::ffff:127.0.0.1]/a.mp3", /IP-literal/],
    ["https://[::ffff:7f00:1]/a.mp3", /IP-literal/],
    ["https://[fd00::1]/a.mp3", /IP-literal/],
    ["https://[fe80::1%25eth0]/a.mp3", /not a valid URL|IP-literal/],
    ["https://[::1]:443/a.mp3", /IP-literal/],
    // localhost spellings (not local development)
    ["https://localhost/a.mp3", /not in MEDIA_HOSTS/],
    ["https://localhost./a.mp3", /not in MEDIA_HOSTS/],
    ["https://LOCALHOST/a.mp3", /not in MEDIA_HOSTS/],
    ["https://localhost.suno.ai.evil.example/a.mp3", /not in MEDIA_HOSTS/],
    // userinfo and delimiter tricks
    ["https://suno.ai@evil.example/a.mp3", /credentials/],
    ["https://suno.ai:443@evil.example/a.mp3", /credentials/],
    ["https://evil.example#@suno.ai/a.mp3", /not in MEDIA_HOSTS/],
    ["https://evil.example?@suno.ai/a.mp3", /not in MEDIA_HOSTS/],
    ["https://evil.example\\@suno.ai/a.mp3", /not in MEDIA_HOSTS/],
    ["https://evil.example\\.suno.ai/a.mp3", /not in MEDIA_HOSTS/],
    ["https://evil.example%2f.suno.ai/a.mp3", /not a valid URL|not in MEDIA_HOSTS/],
    ["https://suno.ai.evil.example/a.mp3", /not in MEDIA_HOSTS/],
    ["https://evilsuno.ai/a.mp3", /not in MEDIA_HOSTS/],
    ["https://suno.ai./a.mp3", /not in MEDIA_HOSTS/],
    // encoded and look-alike hosts
    ["https://%65vil.example/a.mp3", /not in MEDIA_HOSTS/],
    ["https://sun\u043e.ai/a.mp3", /not in MEDIA_HOSTS/],
    ["https://xn--sun-xpd.ai/a.mp3", /not in MEDIA_HOSTS/],
    // schemes
    ["HTTP://musicfile.api.box/a.mp3", /only https/],
    ["ws://musicfile.api.box/a.mp3", /only https/],
    ["data:audio/mpeg;base64,AAAA", /only https/],
    ["javascript:alert(1)", /only https/],
    ["//musicfile.api.box/a.mp3", /not a valid URL/],
  ])("refuses %s", (url, reason) => {
    expect(() => checkMediaUrl(url, production)).toThrow(PermanentError);
    expect(() => checkMediaUrl(url, production)).toThrow(reason);
  });

  it.each([
    "http://localhost./a.mp3",
    "http://127.0.0.1.nip.io/a.mp3",
    "http://[::1]:9000/a.mp3",
    "http://0.0.0.0:9000/a.mp3",
    "https://127.0.0.2/a.mp3",
  ])("does not take %s for local development's loopback", (url) => {
    expect(() => checkMediaUrl(url, local)).toThrow(PermanentError);
  });

  it("reads a percent-encoded allowed host as that host (it is one)", () => {
    expect(checkMediaUrl("https://%73uno.ai/a.mp3", production).hostname).toBe("suno.ai");
  });

  it("never echoes credentials in its refusal", () => {
    expect(() => checkMediaUrl("https://alice:s3cret@[oops/a.mp3", production)).toThrow(
      /^not a valid URL: https:\/\/\[oops\/a\.mp3$/,
    );
  });
});
