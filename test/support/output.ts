/**
 * What the process writes to stdout and stderr during each test of the file (Powertools writes
 * its logs and EMF metrics there), written nowhere else. Call at the top of a test file.
 */
export function captureOutput(): { text(): string; lines(): string[] } {
  let chunks: string[] = [];
  let spies: jest.SpyInstance[] = [];
  beforeEach(() => {
    chunks = [];
    spies = [process.stdout, process.stderr].map((stream) =>
      jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        chunks.push(String(chunk));
        return true;
      }),
    );
  });
  afterEach(() => spies.forEach((spy) => spy.mockRestore()));
  return {
    /** Everything written so far in this test. */
    text: () => chunks.join(''),
    /** The non-empty lines written so far in this test (one JSON log or metric record each). */
    lines: () => chunks.flatMap((chunk) => chunk.split('\n')).filter(Boolean),
  };
}
