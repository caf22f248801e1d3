// CPU time (user + system, seconds) of processes, from /proc (Linux): what a run cost in CPU,
// which a loaded machine changes far less than it changes rates. Elsewhere: NaN.
import { readFileSync, readdirSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

function table() {
  const procs = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return procs;
}

/** CPU seconds of every descendant of `root` (not `root` itself), less those under the pids in `except`. */
export function descendantsCpu(root, except = []) {
  let procs;
  try {
    procs = table();
  } catch {
    return NaN;
  }
  const skip = new Set(except);
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of procs) {
      if (!tree.has(pid) && !skip.has(pid) && tree.has(p.ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  let ticks = 0;
  for (const pid of tree) if (pid !== root) ticks += procs.get(pid)?.ticks ?? 0;
  return ticks / TICKS;
}

/** CPU seconds of process `pid` and its descendants. */
export function processCpu(pid) {
  try {
    const procs = table();
    return (procs.get(pid)?.ticks ?? NaN) / TICKS + descendantsCpu(pid);
  } catch {
    return NaN;
  }
}
