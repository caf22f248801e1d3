/**
 * A small real tmpfs for disk-full tests: mounted on a fresh directory, grown with a remount,
 * unmounted and removed by `dispose()`. Mounting needs root; without it this throws an error
 * that says so (a disk-full test must fail, not skip, where it cannot run).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  readonly dir: string;
  /** `mount -o remount,size=<size>`: frees space for the files already there. */
  resize(size: string): void;
  dispose(): void;
}

export function mountTmpfs(size: string): Tmpfs {
  const uid = process.getuid?.();
  if (uid !== 0) {
    throw new Error(
      `this disk-full test mounts a ${size} tmpfs, which needs root, but id -u is ${String(uid)}: run it as root (bash .ci/run does, and says so when it cannot)`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'cse-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = String((e as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`mount -t tmpfs -o size=${size} failed (${stderr || String(e)}): this disk-full test needs a real small filesystem`, { cause: e });
  }
  return {
    dir,
    resize: (to) => void execFileSync('mount', ['-o', `remount,size=${to}`, dir], { stdio: 'pipe' }),
    dispose: () => {
      // Lazy, so a test that failed with the database still open does not also leak the mount.
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
