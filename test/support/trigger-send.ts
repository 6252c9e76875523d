/** `npm run send -- <fixture> --trigger <name>` against a running local kitebridge, for e2e tests. */
import { parseArgs, type SendOptions, type SendTrigger } from '../../local/send';

/**
 * The options `npm run send` would send with: `fixture` (a name or a path) to trigger `name` of
 * the kitebridge at `local.url`, authenticated with `secret` (default the local token).
 */
export function triggerSendOptions(
  local: { readonly url: string; readonly token: string },
  triggers: readonly SendTrigger[],
  name: string,
  fixture: string,
  secret = local.token,
): SendOptions {
  return parseArgs(
    [fixture, '--trigger', name, '--token', secret, '--url', `${local.url}/triggers/${name}`],
    {},
    { triggers },
  );
}
