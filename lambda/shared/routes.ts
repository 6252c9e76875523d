/**
 * The webhook API's routes, for the deployed API (`lib/constructs/ingress.ts`) and the local
 * gateway (`local/gateway.ts`) alike. Every route takes POST only.
 */

/** Each route as its API Gateway resource path (the proxy event's `resource`). */
export const ROUTES = {
  buildkite: '/buildkite',
  buildkiteToken: '/buildkite/{urlToken}',
  trigger: '/triggers/{name}',
} as const;

export type RouteResource = (typeof ROUTES)[keyof typeof ROUTES];

/** The routes that take Buildkite deliveries: the Buildkite source-IP allowlist covers exactly these. */
export const BUILDKITE_RESOURCES: readonly RouteResource[] = [ROUTES.buildkite, ROUTES.buildkiteToken];

/** `/buildkite/{urlToken}` → `buildkite/*`: a resource path as a resource-policy path. */
function policyPath(resource: string): string {
  return resource.slice(1).replace(/\{[^}]+\}/g, '*');
}

/** The Buildkite routes as resource-policy paths (`execute-api:/<stage>/<method>/<path>`). */
export const BUILDKITE_ROUTES: readonly string[] = BUILDKITE_RESOURCES.map(policyPath);

/** The path a trigger's callers POST to: `/triggers/<name>`. */
export function triggerPath(name: string): string {
  return ROUTES.trigger.replace('{name}', name);
}

/** A request path matched to its route, with its decoded path parameters (null when none). */
export interface MatchedRoute {
  readonly resource: RouteResource;
  readonly pathParameters: Record<string, string> | null;
}

/** A path segment decoded, or undefined when its percent-encoding is malformed. */
function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * The route a request path (`/buildkite/abc`) takes, as API Gateway matches it: literal
 * segments exactly, a `{parameter}` one non-empty segment, percent-decoded. Undefined when no
 * route matches (or a parameter's percent-encoding is malformed): API Gateway answers 404.
 */
export function matchRoute(pathname: string): MatchedRoute | undefined {
  const segments = pathname.split('/').slice(1);
  for (const resource of Object.values(ROUTES)) {
    const parts = resource.split('/').slice(1);
    if (parts.length !== segments.length) continue;
    const parameters = new Map<string, string>();
    const matches = parts.every((part, i) => {
      const segment = segments[i] as string;
      if (!part.startsWith('{')) return part === segment;
      const value = segment === '' ? undefined : decodeSegment(segment);
      if (value === undefined) return false;
      parameters.set(part.slice(1, -1), value);
      return true;
    });
    if (matches) {
      return { resource, pathParameters: parameters.size > 0 ? Object.fromEntries(parameters) : null };
    }
  }
  return undefined;
}
