import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

// Linux /proc readers for the bench: CPU time and memory of processes, and of the machine.

const readText = (path: string): string | null => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

/** Clock ticks per second of /proc CPU times (`getconf CLK_TCK`, 100 nearly everywhere). */
export const CLOCK_TICKS = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const value = Number(out.stdout?.trim());
  return Number.isFinite(value) && value > 0 ? value : 100;
})();

/** utime + stime of a process in ticks, or null when it is gone. */
export function cpuTicks(pid: number): number | null {
  const text = readText(`/proc/${pid}/stat`);
  if (!text) return null;
  // The command name is in parentheses and may hold spaces: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : null;
}

/** VmRSS and VmHWM (peak RSS) in bytes, or null when the process is gone. */
export function memory(pid: number): { rss: number; hwm: number } | null {
  const text = readText(`/proc/${pid}/status`);
  if (!text) return null;
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Pids whose command name is `comm` (as in /proc/<pid>/comm). */
export function pidsByName(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (readText(`/proc/${entry}/comm`)?.trim() === comm) pids.push(Number(entry));
  }
  return pids;
}

/** Pids whose command line contains `text`. */
export function pidsByCommandLine(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (readText(`/proc/${entry}/cmdline`)?.replace(/\0/g, ' ').includes(text)) pids.push(Number(entry));
  }
  return pids;
}

/** `pid` and its direct children (a postmaster and its backends). */
export function processTree(pid: number): number[] {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const text = readText(`/proc/${entry}/stat`);
    if (!text) continue;
    const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) pids.push(Number(entry));
  }
  return pids;
}

/** Busy and total ticks of all CPUs since boot, from the first line of /proc/stat. */
export function machineTicks(): { busy: number; total: number; steal: number } {
  const line = (readText('/proc/stat') ?? '').split('\n')[0] ?? '';
  const [, ...values] = line.trim().split(/\s+/);
  const n = values.map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = n;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total, steal };
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
}

export function machineInfo(): MachineInfo {
  const cpuinfo = readText('/proc/cpuinfo') ?? '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const nproc = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim()) || cpus().length;
  return {
    cpus: nproc,
    cpuModel: model,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: (readText('/proc/sys/kernel/osrelease') ?? '').trim(),
    node: process.version,
  };
}

/** A group of processes sampled together (an app, all postgres processes, nats-server). */
export interface ProcessGroup {
  name: string;
  pids: () => number[] | Promise<number[]>;
  /**
   * Running before the bench and serving others too (the machine's shared servers): their
   * VmHWM is the peak of their whole life, so only the RSS sampled during the bench counts.
   */
  shared?: boolean;
}

export interface Sample {
  /** ms since the sampler started */
  t: number;
  /** CPU seconds used by each group since the sampler started (processes seen at least twice). */
  cpuS: Record<string, number>;
  /** Summed RSS of each group, bytes. */
  rss: Record<string, number>;
  machine: { busy: number; total: number; steal: number };
}

/**
 * Samples CPU time and RSS of process groups every `everyMs`. CPU is accumulated per pid
 * from consecutive readings, so processes that come and go (Postgres backends) count for the
 * time they were seen; the first reading of a pid is only its baseline.
 */
export class ProcessSampler {
  readonly samples: Sample[] = [];
  /** Highest VmHWM seen per group member, then summed per group. */
  private readonly peakHwm = new Map<string, Map<number, number>>();
  private readonly lastTicks = new Map<string, Map<number, number>>();
  private readonly cumulative = new Map<string, number>();
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly groups: readonly ProcessGroup[],
    private readonly everyMs = 1_000,
  ) {}

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes one sample now (also called once more before the apps stop). */
  async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const cpuS: Record<string, number> = {};
      const rss: Record<string, number> = {};
      for (const group of this.groups) {
        let pids: number[];
        try {
          pids = await group.pids();
        } catch {
          pids = [];
        }
        const last = this.lastTicks.get(group.name) ?? new Map<number, number>();
        const next = new Map<number, number>();
        const peaks = this.peakHwm.get(group.name) ?? new Map<number, number>();
        let added = 0;
        let groupRss = 0;
        for (const pid of pids) {
          const ticks = cpuTicks(pid);
          const mem = memory(pid);
          if (ticks === null || mem === null) continue;
          const before = last.get(pid);
          if (before !== undefined && ticks >= before) added += ticks - before;
          next.set(pid, ticks);
          groupRss += mem.rss;
          peaks.set(pid, Math.max(peaks.get(pid) ?? 0, mem.hwm));
        }
        this.lastTicks.set(group.name, next);
        this.peakHwm.set(group.name, peaks);
        const total = (this.cumulative.get(group.name) ?? 0) + added / CLOCK_TICKS;
        this.cumulative.set(group.name, total);
        cpuS[group.name] = total;
        rss[group.name] = groupRss;
      }
      this.samples.push({ t: Date.now() - this.startedAt, cpuS, rss, machine: machineTicks() });
    } finally {
      this.busy = false;
    }
  }

  /** The sample closest to `atMs` (epoch ms). */
  at(atMs: number): Sample | null {
    const t = atMs - this.startedAt;
    let best: Sample | null = null;
    for (const sample of this.samples) {
      if (!best || Math.abs(sample.t - t) < Math.abs(best.t - t)) best = sample;
    }
    return best;
  }

  /** CPU use of each group between two instants, in % of one core; machine busy % of all cores. */
  cpuBetween(
    fromMs: number,
    toMs: number,
  ): { groups: Record<string, number>; machine: number; steal: number } {
    const a = this.at(fromMs);
    const b = this.at(toMs);
    const groups: Record<string, number> = {};
    if (!a || !b || b.t <= a.t) return { groups, machine: 0, steal: 0 };
    const seconds = (b.t - a.t) / 1000;
    for (const name of Object.keys(b.cpuS)) {
      groups[name] = Math.round((((b.cpuS[name] ?? 0) - (a.cpuS[name] ?? 0)) / seconds) * 1000) / 10;
    }
    const total = b.machine.total - a.machine.total;
    const pct = (value: number) => (total > 0 ? Math.round((value / total) * 1000) / 10 : 0);
    return {
      groups,
      machine: pct(b.machine.busy - a.machine.busy),
      steal: pct(b.machine.steal - a.machine.steal),
    };
  }

  /**
   * Peak RSS per group, bytes: the highest sampled RSS, and the kernel's VmHWM where it is
   * higher, except for a shared group, whose VmHWM may come from long before the bench.
   */
  peakRss(): Record<string, number> {
    const result: Record<string, number> = {};
    for (const group of this.groups) {
      const sampledMaxBytes = Math.max(0, ...this.samples.map((sample) => sample.rss[group.name] ?? 0));
      const hwmBytes = [...(this.peakHwm.get(group.name)?.values() ?? [])].reduce((sum, v) => sum + v, 0);
      result[group.name] = group.shared ? sampledMaxBytes : Math.max(sampledMaxBytes, hwmBytes);
    }
    return result;
  }
}
