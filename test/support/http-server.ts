/** Local HTTP stubs for tests: a server on an ephemeral loopback port, and its shutdown. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts `server` on a free port of 127.0.0.1; resolves to its base URL (`http://127.0.0.1:PORT`). */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes `server` and the connections still open to it (keep-alive ones would hold it open). */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** One request the REST stand-in received: its path and query, and its Authorization header. */
export interface StandInRequest {
  readonly url: string;
  readonly authorization: string | undefined;
}

/**
 * A stand-in for Buildkite's REST API for one test file: listening on loopback before all tests,
 * closed after them, its request log emptied before each. Each test sets how it answers
 * (`stub.answer = jsonAnswer(200, …)`); until one does, it answers 500.
 */
export function restStandIn() {
  const stub = {
    baseUrl: '',
    requests: [] as StandInRequest[],
    answer: jsonAnswer(500, { message: 'no answer set' }),
  };
  const server = createServer((req, res) => {
    stub.requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    stub.answer(req, res);
  });
  beforeAll(async () => {
    stub.baseUrl = await listenOnLoopback(server);
  });
  afterAll(() => closeServer(server));
  beforeEach(() => {
    stub.requests.length = 0;
  });
  return stub;
}

/** An answer with `status` and `body` as JSON. */
export const jsonAnswer =
  (status: number, body: unknown) =>
  (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
