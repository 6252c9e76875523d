/** Whether a parsed JSON value is an object (not null, not an array): the one guard every reader of untrusted JSON uses. */
export const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
