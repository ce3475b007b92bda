// The systemd units pass `systemd-analyze verify`, as system units and as user units (the way
// they are installed). CI needs Debian's `systemd` package for the tool; without it this
// test fails and says so rather than skipping.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const unitsDir = join(import.meta.dirname, '..', '..', 'deploy', 'systemd');
const units = ['animus.service', 'animus-backup.service', 'animus-backup.timer'].map((u) =>
  join(unitsDir, u),
);

let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'animus-systemd-'));
  await mkdir(join(home, '.config', 'animus'), { recursive: true });
  await writeFile(join(home, '.config', 'animus', 'secrets.env'), 'ANIMUS_API_TOKEN=0123456789abcdef0123\n', {
    mode: 0o600,
  });
  await mkdir(join(home, 'run'), { mode: 0o700 });
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

async function verify(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const r = await run('systemd-analyze', [...args, 'verify', ...units], {
      env: { ...process.env, HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), SYSTEMD_LOG_LEVEL: 'notice' },
    });
    return { code: 0, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { code?: number | string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error('systemd-analyze is not installed: on Debian/Ubuntu run `apt-get install -y systemd`');
    }
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('systemd units', () => {
  it('verify as system units', async () => {
    const r = await verify([]);
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it('verify as user units (how they are installed)', async () => {
    const r = await verify(['--user']);
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it('a broken unit is caught (the check can fail)', async () => {
    const bad = join(home, 'broken.service');
    await writeFile(bad, '[Service]\nExecStart=relative/path serve\nRestart=sometimes\n');
    const r = await run('systemd-analyze', ['verify', bad]).then(
      (x) => x.stdout + x.stderr,
      (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
    );
    expect(r).toMatch(/Restart|ExecStart|absolute/i);
  });
});
