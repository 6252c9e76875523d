/** The agent token secret's initial value: the stack creates the secret with it, the user replaces it. */
export const AGENT_TOKEN_PLACEHOLDER = 'REPLACE-ME-with-a-Buildkite-agent-token';

/**
 * Reads the agent token out of the secret's value: the token itself, or JSON `{"token": "…"}`.
 * Throws while the secret still holds the placeholder, so the metrics call fails (no action) with
 * a message that says what to do.
 */
export function agentTokenFrom(secretValue: string): string {
  let token = secretValue.trim();
  if (token.startsWith('{')) {
    const parsed = JSON.parse(token) as { token?: unknown };
    if (typeof parsed.token !== 'string')
      throw new Error('The agent token secret is JSON without a "token" string.');
    token = parsed.token.trim();
  }
  if (token === '' || token === AGENT_TOKEN_PLACEHOLDER) {
    throw new Error('The agent token secret still holds its placeholder: put a Buildkite agent token in it.');
  }
  return token;
}
