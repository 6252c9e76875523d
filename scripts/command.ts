/**
 * How every `npm run <command>` script reads its flags, reports a failure and exits, so that
 * the commands agree: bad usage prints the usage line and exits 2, `--help` prints it and exits
 * 0, a failure prints `<command>: <message>` and exits 1.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** What `parseArgs` returns for `config`. */
export type CommandLine<T extends ParseArgsConfig> = ReturnType<typeof parseArgs<T>>;

/** The exit code of a usage error. */
export const USAGE_EXIT = 2;

/**
 * `config` parsed (it should declare a `help` flag), or the exit code when there is nothing
 * more to do: the usage after `--help` (0), or the parser's (or `check`'s) message and the usage
 * on bad flags (2).
 */
export function readCommandLine<T extends ParseArgsConfig>(
  name: string,
  usage: string,
  config: T,
  check?: (parsed: CommandLine<T>) => void,
): CommandLine<T> | number {
  let parsed: CommandLine<T>;
  try {
    parsed = parseArgs(config);
    check?.(parsed);
  } catch (error) {
    console.error(`${name}: ${messageOf(error)}\n${usage}`);
    return USAGE_EXIT;
  }
  if ((parsed.values as { help?: unknown }).help === true) {
    console.log(usage);
    return 0;
  }
  return parsed;
}

/** Reports `error` as the command's failure; returns the exit code 1. */
export function commandFailed(name: string, error: unknown): number {
  console.error(`${name}: ${messageOf(error)}`);
  return 1;
}

/** Runs a command's `main` with the process arguments and sets the exit code it returns. */
export function runCommand(name: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`${name}: unexpected error: ${String(error).replace(/\s*\n\s*/g, ' ')}`);
      process.exitCode = 1;
    },
  );
}

/** The message of anything thrown (an error from another realm, as node's parser's can be, included). */
function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(error);
}
