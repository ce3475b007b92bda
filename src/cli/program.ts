// The `animus` command line on commander: global options (`--json`, `--env-file`), one
// sub-command per job, `--help` everywhere, and one place that turns an outcome into an exit
// code (see exit-codes.ts). `runCli` never calls process.exit, so tests run it in-process.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { Animus } from '../client.js';
import { type AnimusConfig, configFromEnv } from '../config/index.js';
import { openDatabase } from '../db/database.js';
import { migrationStatus } from '../db/migrate.js';
import { ANIMUS_VERSION } from '../telemetry/instruments.js';
import { runDemo } from './demo.js';
import { formatDoctor, runDoctor } from './doctor.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { registerMemoryCommands } from './memory-commands.js';
import { createOutput, type Output } from './output.js';
import { registerWorkCommands } from './work-commands.js';
import { runServeCommand } from './serve-command.js';

/** Streams and environment a CLI run uses (tests pass their own). */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

/** What every command action gets. */
export interface CommandContext {
  /** Output for this run (`--json` decided by the global option). */
  out(): Output;
  /** The configuration from the environment (after `--env-file`/`.env`). Throws ConfigError. */
  config(): AnimusConfig;
  /** Runs `fn` with a started client, closing it afterwards. */
  withClient<T>(
    fn: (animus: Animus) => Promise<T>,
    options?: { migrate?: boolean; allowDimensionChange?: boolean },
  ): Promise<T>;
  /** The environment (process.env or the test's). */
  readonly env: Record<string, string | undefined>;
  /** Sets the exit code of a command that did not throw (default 0). */
  setExitCode(code: number): void;
}

/** Parses a `--limit`-style whole number, naming the option when it is not one. */
export function wholeNumber(name: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`${name}: expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** Builds the program. Exposed for `--help` tests; use {@link runCli} to run it. */
export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('animus')
    .description('Queue-centric semantic memory on Postgres: work items, memories, the service.')
    .version(ANIMUS_VERSION, '-V, --version')
    .option('--json', 'print results as JSON (for scripts); errors go to stderr as {"error":{…}}')
    .option('--env-file <path>', 'read settings from this file (default: ./.env when present)')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Exit codes:
  0   done (serve: drained cleanly)      64  bad command line
  1   check failed / not found / not allowed   65  invalid input (message names the field)
  66  input file missing or unreadable   69  database or endpoint unavailable
  70  internal error                     75  serve: drain timed out, work returned to the queue
  78  invalid configuration or schema    130 interrupted

Configuration comes from the environment (see README.md ("animus as a service")); DATABASE_URL unset means
the embedded database in ANIMUS_DATA_DIR.`,
    );

  program
    .command('serve')
    .description('run the HTTP API and the workers until SIGTERM/SIGINT, then drain')
    .addOption(
      new Option('--drain-timeout <ms>', 'how long a drain waits for in-flight items')
        .argParser(wholeNumber('--drain-timeout', 0, 3_600_000))
        .default(30_000),
    )
    .addOption(
      new Option('--vt <seconds>', 'visibility timeout of each claim (an abandoned item returns after it)')
        .argParser(wholeNumber('--vt', 1, 86_400))
        .default(30),
    )
    .action(async (opts: { drainTimeout: number; vt: number }) => {
      ctx.setExitCode(await runServeCommand(ctx, opts));
    });

  program
    .command('migrate')
    .description('apply pending migrations (or show their state with --status)')
    .option('--status', 'list migrations and whether each is applied; change nothing')
    .action(async (opts: { status?: boolean }) => {
      const out = ctx.out();
      const applied: string[] = [];
      const db = await openDatabase(ctx.config(), {
        migrate: opts.status !== true,
        skipSchemaCheck: opts.status === true,
        log: (l) => applied.push(l),
      });
      try {
        const status = await migrationStatus(db.pool);
        out.result({ database: db.kind, applied, migrations: status }, () => [
          ...applied,
          ...status.map(
            (s) =>
              `${String(s.version).padStart(4, '0')} ${s.name.padEnd(24)} ${s.state}${s.appliedAt ? ` ${s.appliedAt.toISOString()}` : ''}`,
          ),
        ]);
        const bad = status.some((s) => s.state === 'edited' || s.state === 'unknown');
        if (bad) ctx.setExitCode(ExitCode.config);
        else if (opts.status === true && status.some((s) => s.state === 'pending'))
          ctx.setExitCode(ExitCode.failure);
      } finally {
        await db.close();
      }
    });

  program
    .command('doctor')
    .description('check the database, pgvector, pgmq, migrations, embeddings, LLM and OTLP endpoints')
    .option('--timeout <ms>', 'timeout of each network probe', wholeNumber('--timeout', 100, 60_000), 3000)
    .action(async (opts: { timeout: number }) => {
      const checks = await runDoctor(ctx.config(), { timeoutMs: opts.timeout });
      ctx.out().result({ ok: !checks.some((c) => c.status === 'fail'), checks }, () => formatDoctor(checks));
      if (checks.some((c) => c.status === 'fail')) ctx.setExitCode(ExitCode.failure);
    });

  program
    .command('demo')
    .description('ingest the bundled sample corpus through the queue, search it, show the telemetry')
    .option('--keep', 'keep the demo database (in ANIMUS_DATA_DIR) instead of removing it')
    .action(async (opts: { keep?: boolean }) => {
      ctx.setExitCode(await runDemo(ctx, { keep: opts.keep === true }));
    });

  registerWorkCommands(program, ctx);
  registerMemoryCommands(program, ctx);
  return program;
}

/** Runs the CLI on `argv` (user arguments only) and returns the exit code. */
export async function runCli(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const env = io.env ?? process.env;
  let json = argv.includes('--json');
  let out = createOutput({
    json,
    ...(io.stdout ? { stdout: io.stdout } : {}),
    ...(io.stderr ? { stderr: io.stderr } : {}),
  });
  let exitCode: number = ExitCode.ok;
  let config: AnimusConfig | undefined;
  let envLoaded = false;
  const loadEnv = (program: Command) => {
    if (envLoaded) return;
    envLoaded = true;
    const file = program.opts<{ envFile?: string }>().envFile;
    // dotenv never overrides variables already set (systemd's EnvironmentFile wins).
    const result = loadDotenv({
      path: file ?? '.env',
      processEnv: env as Record<string, string>,
      quiet: true,
    });
    if (file !== undefined && result.error !== undefined) throw result.error;
  };
  const root: { program?: Command } = {};
  const ctx: CommandContext = {
    env,
    out: () => out,
    config() {
      if (root.program !== undefined) loadEnv(root.program);
      config ??= configFromEnv(env);
      return config;
    },
    async withClient(fn, options = {}) {
      const animus = new Animus({
        config: ctx.config(),
        migrate: options.migrate ?? true,
        allowDimensionChange: options.allowDimensionChange === true,
      });
      await animus.start();
      try {
        return await fn(animus);
      } finally {
        await animus.close();
      }
    },
    setExitCode(code) {
      exitCode = code;
    },
  };
  const program = buildProgram(ctx);
  root.program = program;
  const writeOut = (s: string) => void (io.stdout ?? process.stdout).write(s);
  const writeErr = (s: string) => void (io.stderr ?? process.stderr).write(s);
  for (const cmd of [program, ...allSubcommands(program)]) {
    cmd.exitOverride();
    cmd.configureOutput({ writeOut, writeErr });
  }
  program.hook('preAction', (root) => {
    json = root.opts<{ json?: boolean }>().json === true;
    out = createOutput({
      json,
      ...(io.stdout ? { stdout: io.stdout } : {}),
      ...(io.stderr ? { stderr: io.stderr } : {}),
    });
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version succeed; help shown because no sub-command was given is a usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.ok;
      if (err.code === 'commander.help') return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      return ExitCode.usage;
    }
    out.error(err);
    return exitCodeFor(err);
  }
}

function allSubcommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allSubcommands(c)]);
}
