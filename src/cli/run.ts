/** Runs the CLI program: maps errors to messages and documented exit codes. */
import { Command, CommanderError } from 'commander';
import { EXIT, SsdtuneError } from '../errors.js';
import { runAllUndos } from '../util/cleanup.js';

/**
 * Commander copies exitOverride only to subcommands created after it is set:
 * set it on every command so a usage error anywhere throws (and exits 2).
 */
function overrideExits(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) overrideExits(sub);
}

/**
 * A reader that stops early (`ssdtune analyze x | head`) closes the pipe: end as a Unix tool ends then (cat,
 * blkparse), killed by SIGPIPE (status 141 in a shell), with no EPIPE stack trace. Node ignores SIGPIPE, so its
 * default action is restored first (a listener added and removed leaves it at SIG_DFL); what the process made
 * outside itself (a spooled standard input, util/cleanup.ts) is removed before, as no exit hook runs after a kill.
 * The one handler of standard output's errors, for every command.
 */
function quitWhenStdoutCloses(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') {
      runAllUndos();
      const ignore = (): void => undefined;
      process.on('SIGPIPE', ignore).removeListener('SIGPIPE', ignore);
      process.kill(process.pid, 'SIGPIPE');
      return;
    }
    process.stderr.write(`ssdtune: cannot write the output: ${e.message}\n`);
    process.exit(EXIT.FAILURE);
  });
}

export async function runMain(program: Command, argv: string[]): Promise<void> {
  quitWhenStdoutCloses();
  overrideExits(program);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    process.exitCode = reportError(e);
  }
}

/**
 * An error about a request field starts with the field as the REST API names it (errors.ts: aboutField); on the
 * command line that field is a flag: `device: ...` is said `--device: ...` (a field's flag is its name in kebab
 * case: confirmRounds, --confirm-rounds; replay.speedup, --replay).
 */
export function cliWording(e: SsdtuneError): string {
  if (e.field === undefined || !e.message.startsWith(`${e.field}: `)) return e.message;
  const flag = `--${e.field.split('.')[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  return `${flag}: ${e.message.slice(e.field.length + 2)}`;
}

/** Print an error for a person (or as JSON with --json) and return the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (help, version, usage errors).
    return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  }
  const json = process.argv.includes('--json');
  if (e instanceof SsdtuneError) {
    const message = cliWording(e);
    if (json) process.stderr.write(JSON.stringify({ error: { code: e.code, message } }) + '\n');
    else process.stderr.write(`ssdtune: ${message} [${e.code}]\n`);
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`ssdtune: unexpected error: ${err.stack ?? err.message}\n`);
  return EXIT.FAILURE;
}
