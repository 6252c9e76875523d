import type { Alert, AlertKind, Destination } from './model';

/**
 * Whether `value` matches a glob: `*` is any run of characters (slashes included), `?` one
 * character; everything else is literal. Matches the whole value.
 */
export function globMatches(glob: string, value: string): boolean {
  const source = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(value);
}

/**
 * Whether `value` passes a list of globs: it must match one positive glob (or there are none)
 * and no `!glob`, as in Buildkite's branch filters (`main release/* !release/old`).
 */
export function passesGlobs(globs: readonly string[], value: string): boolean {
  const negative = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  const positive = globs.filter((g) => !g.startsWith('!'));
  if (negative.some((g) => globMatches(g, value))) return false;
  return positive.length === 0 || positive.some((g) => globMatches(g, value));
}

/** The kind a destination subscribes to for an alert (follow-ups ride on the failure kinds). */
function subscribedKind(alert: Alert): AlertKind | undefined {
  return alert.kind === 'build.failed_jobs' ? undefined : alert.kind;
}

/**
 * Whether a destination wants an alert: the kind is among its `events`, and for build alerts the
 * pipeline, branch and build state pass its filters. Alerts without a build (agents, tokens, Test
 * Engine, packages) are routed by `events` only.
 */
export function wantsAlert(destination: Destination, alert: Alert): boolean {
  const kind = subscribedKind(alert);
  if (kind === undefined) {
    return destination.events.includes('build.failed') || destination.events.includes('build.still_failing');
  }
  if (!destination.events.includes(kind)) return false;
  if (!('build' in alert)) return true;
  const { build } = alert;
  // A build whose body lacks the pipeline slug or state matches only filters that allow any value.
  return (
    passesGlobs(destination.pipelines, build.pipelineSlug ?? '') &&
    passesGlobs(destination.branches, build.branch) &&
    (destination.buildStates === undefined ||
      destination.buildStates.includes(kind === 'build.blocked' ? 'blocked' : (build.state ?? '')))
  );
}
