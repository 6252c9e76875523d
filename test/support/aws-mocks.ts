/**
 * aws-sdk-client-mock stubs for a test file: one per client class, each reset before every test
 * (before the file's own beforeEach arranges answers), so no test sees another's answers or calls.
 */
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any SDK v3 client class
type ClientClass = abstract new (...args: any[]) => { send: unknown };

/**
 * `{ dynamo: DynamoDBClient, … }` → `{ dynamo: <its stub>, … }`. Call at the top of the file,
 * before its own `beforeEach`.
 */
export function mockAwsClients<T extends Record<string, ClientClass>>(
  classes: T,
): { [K in keyof T]: AwsClientStub<InstanceType<T[K]>> } {
  const stubs = Object.fromEntries(
    Object.entries(classes).map(([name, client]) => [name, mockClient(client as never)]),
  ) as { [K in keyof T]: AwsClientStub<InstanceType<T[K]>> };
  beforeEach(() => {
    for (const stub of Object.values(stubs) as { reset(): unknown }[]) stub.reset();
  });
  return stubs;
}
