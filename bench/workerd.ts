// Finds the workerd process that runs the Worker under a `wrangler dev`, and samples its memory.
//
// `wrangler dev` leads its own process group (support/dev-server.ts) holding two workerd processes:
// the proxy that listens on the public port (`--socket-addr=entry=<ip>:<port>`) and the runtime
// that runs the Worker, its Durable Objects, the local Queue broker and R2 (`--inspector-addr`,
// `entry=…:0`). Only /proc is read; nothing is signalled.

import { readdirSync, readFileSync } from "node:fs";

interface ProcInfo {
  pid: number;
  comm: string;
  pgid: number;
  args: string[];
}

function procInfo(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may contain spaces; the fields after it are space-separated.
    const open = stat.indexOf("(");
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(open + 1, close);
    const rest = stat
      .slice(close + 2)
      .trim()
      .split(" ");
    const pgid = Number(rest[2]);
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    return { pid, comm, pgid, args };
  } catch {
    return null;
  }
}

/** Every process of a process group (read from /proc). */
export function groupProcesses(pgid: number): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const info = procInfo(Number(entry));
    if (info && info.pgid === pgid) out.push(info);
  }
  return out;
}

export interface WorkerdPids {
  /** The workerd that runs the Worker, its Durable Objects, the local Queue and R2. */
  runtime: number;
  /** The workerd of wrangler's proxy in front of it (listens on the public port), if found. */
  proxy: number | null;
}

/**
 * The two workerd processes of a `wrangler dev`: the one bound to the public port is the proxy;
 * the runtime is the other one, preferably the one with an inspector. Throws when there is none.
 */
export function workerdPids(wranglerPid: number, publicPort: number): WorkerdPids {
  const workerds = groupProcesses(wranglerPid).filter(
    (p) => p.comm === "workerd" || p.args[0]?.endsWith("/workerd"),
  );
  const isProxy = (p: ProcInfo) => p.args.some((a) => a.endsWith(`entry=127.0.0.1:${publicPort}`));
  const notProxy = workerds.filter((p) => !isProxy(p));
  const runtime = notProxy.find((p) => p.args.some((a) => a.startsWith("--inspector-addr"))) ?? notProxy[0];
  if (!runtime) {
    throw new Error(
      `no workerd runtime in process group ${wranglerPid} (found: ${workerds.map((p) => p.pid).join(", ")})`,
    );
  }
  return { runtime: runtime.pid, proxy: workerds.find(isProxy)?.pid ?? null };
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** CPU time (user + system, all threads) a process has used so far, in ms; null once it is gone. */
export function cpuMs(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat
      .slice(stat.lastIndexOf(")") + 2)
      .trim()
      .split(" ");
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the comm.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return null;
  }
}

/** VmRSS of a process in bytes, or null once it is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export interface RssWindow {
  /** RSS just before the measured work started. */
  before: number;
  /** Highest sample while it ran (sampled every `intervalMs`). */
  peak: number;
  /** RSS right after it finished. */
  after: number;
  samples: number;
}

/** Runs `work` while sampling the RSS of `pid` every `intervalMs` (default 100 ms). */
export async function withRss<T>(
  pid: number,
  work: () => Promise<T>,
  intervalMs = 100,
): Promise<{ result: T; rss: RssWindow }> {
  const before = rssBytes(pid) ?? 0;
  let peak = before;
  let samples = 1;
  const timer = setInterval(() => {
    const now = rssBytes(pid);
    if (now !== null) {
      samples += 1;
      if (now > peak) peak = now;
    }
  }, intervalMs);
  try {
    const result = await work();
    const after = rssBytes(pid) ?? 0;
    peak = Math.max(peak, after);
    return { result, rss: { before, peak, after, samples: samples + 1 } };
  } finally {
    clearInterval(timer);
  }
}

/** CPU time used by every process of a group so far, in ms (read before the group is stopped). */
export function groupCpuMs(pgid: number): number {
  return groupProcesses(pgid).reduce((sum, p) => sum + (cpuMs(p.pid) ?? 0), 0);
}

export interface SystemCpu {
  /** CPU time all cores spent busy (user, nice, system, irq, softirq), in ms. */
  busyMs: number;
  /** CPU time the hypervisor took from this machine, in ms. */
  stealMs: number;
}

/** Machine-wide CPU counters from /proc/stat. */
export function systemCpu(): SystemCpu {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return {
    busyMs: ((user + nice + system + irq + softirq) * 1000) / USER_HZ,
    stealMs: (steal * 1000) / USER_HZ,
  };
}
