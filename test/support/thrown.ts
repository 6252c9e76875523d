/**
 * The error `fn` throws, checked to be a `type`: fails the test when `fn` throws nothing or
 * something else. For reading an error's fields after the throw (`toThrow` checks only its message).
 */
export function thrownBy<E extends Error>(type: new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as E;
  }
  throw new Error(`expected a ${type.name}, but nothing was thrown`);
}
