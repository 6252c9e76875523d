import { commandFailed, readCommandLine, USAGE_EXIT } from '../../scripts/command';

const USAGE = 'usage: npm run thing [-- --name N]';
const config = (args: string[]) =>
  ({
    args,
    options: { name: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  }) as const;

describe('readCommandLine', () => {
  let log: jest.SpyInstance;
  let error: jest.SpyInstance;
  beforeEach(() => {
    log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('returns the parsed flags', () => {
    const parsed = readCommandLine('thing', USAGE, config(['--name', 'x']));
    expect(typeof parsed === 'number' ? parsed : parsed.values.name).toBe('x');
    expect(log).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
  });

  it('prints the usage after --help and exits 0', () => {
    expect(readCommandLine('thing', USAGE, config(['-h']))).toBe(0);
    expect(log).toHaveBeenCalledWith(USAGE);
  });

  it.each([
    ['an unknown flag', ['--nope'], undefined, /^thing: Unknown option '--nope'/],
    [
      "the command's own check",
      ['--name', ''],
      () => {
        throw new Error('--name needs a name.');
      },
      /^thing: --name needs a name\./,
    ],
  ])('names %s and prints the usage, exiting 2', (_, args, check, message) => {
    expect(readCommandLine('thing', USAGE, config(args), check)).toBe(USAGE_EXIT);
    expect(USAGE_EXIT).toBe(2);
    const printed = String(error.mock.calls[0]?.[0]);
    expect(printed).toMatch(message);
    expect(printed.endsWith(`\n${USAGE}`)).toBe(true);
  });
});

describe('commandFailed', () => {
  it.each([
    [new Error('the stack is not there'), 'thing: the stack is not there'],
    ['a thrown string', 'thing: a thrown string'],
  ])('prints the message after the command name and returns 1', (thrown, printed) => {
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(commandFailed('thing', thrown)).toBe(1);
    expect(error).toHaveBeenCalledWith(printed);
    error.mockRestore();
  });
});
