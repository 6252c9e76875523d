/**
 * A delivery matches the same rules whether it is published inline or, being too large for an
 * EventBridge entry, as a pointer event. Checked over every rule a fully configured synthesized
 * stack attaches to its bus (built-in consumers and one added with the consumer construct),
 * every fixture and real body, and generated variations of them, with the project's pattern engine.
 */
import { Match } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Template } from 'aws-cdk-lib/assertions';
import fc from 'fast-check';
import {
  BUILDKITE_SOURCE,
  INLINE_ENTRY_LIMIT_BYTES,
  TRIGGER_SOURCE,
  triggerDetailType,
  type BusEntry,
  type DeliveryMetadata,
  type EventEnvelope,
} from '../../lambda/shared/contract';
import { parseRoutingPaths } from '../../lambda/shared/pointer';
import { detailText, EventDeliverer, triggerDetailText } from '../../lambda/verify/event-publishing';
import type { VerifiedDelivery } from '../../lambda/verify/ports';
import { matchesPattern, type EventPattern } from '../../lambda/shared/event-pattern';
import { triggerBodies, webhookBodies } from '../support/corpus';
import { buildStack, logicalIdOf } from './helpers';

const TRIGGERS = [
  { name: 'github-deploy', kind: 'github', filter: { action: ['closed'], pull_request: { merged: [true] } } },
  {
    name: 'linear-issues',
    kind: 'linear',
    filter: { type: ['Issue'], data: { estimate: [{ numeric: ['>', 2] }] } },
  },
  { name: 'pagerduty', kind: 'token', header: 'X-PD-Token', filter: { incident: { urgency: ['high'] } } },
  { name: 'anything', kind: 'hmac-sha256', header: 'X-Signature' },
];

/** The stack with every built-in consumer, filtered triggers and a user consumer on deep fields. */
function fullyConfigured() {
  const { stack } = buildStack({
    autoscaler: {
      org: 'acme',
      queues: [
        { queue: 'linux', asgName: 'ci-linux', max: 5 },
        { queue: 'deploy', asgName: 'ci-deploy', max: 2 },
      ],
    },
    chatAlerts: { destinations: [{ name: 'ci-slack', service: 'slack' }] },
    analytics: {},
    triggers: TRIGGERS,
  });
  const inbox = new sqs.Queue(stack, 'Inbox');
  stack.addConsumer('TeamCore', {
    pattern: {
      source: ['buildkite'],
      detail: {
        $or: [
          { build: { meta_data: { team: ['core'] }, message: [{ prefix: 'Release' }] } },
          { job: { soft_failed: [true], retry_source: { retry_type: ['manual'] } } },
          { pipeline: { repository: [{ suffix: '.git' }] }, build: { pull_request: [{ exists: false }] } },
        ],
      },
    },
    receiver: { target: (dlq) => new targets.SqsQueue(inbox, { deadLetterQueue: dlq }) },
  });
  const template = Template.fromStack(stack);
  const busId = logicalIdOf(stack.bus.bus);
  const rules = Object.entries(template.findResources('AWS::Events::Rule'))
    .filter(([, rule]) => JSON.stringify(rule.Properties.EventBusName ?? null).includes(busId))
    .map(([id, rule]) => ({ id, pattern: rule.Properties.EventPattern as EventPattern }));
  const verify = template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: { ROUTING_PATHS: Match.anyValue() } } },
  });
  const [verifyFunction] = Object.values(verify);
  const routingPaths = parseRoutingPaths(verifyFunction?.Properties.Environment.Variables.ROUTING_PATHS);
  return { rules, routingPaths };
}

const { rules, routingPaths } = fullyConfigured();

const delivery: DeliveryMetadata = {
  receivedAt: '2026-12-01T10:00:00.000Z',
  requestId: 'req-1',
  dedupeKey: 'k',
  auth: 'signature',
  sourceIp: '192.0.2.10',
};

function envelope(entry: Pick<BusEntry, 'source' | 'detailType' | 'detail'>): EventEnvelope {
  return {
    version: '0',
    id: 'e',
    'detail-type': entry.detailType,
    source: entry.source,
    account: '123456789012',
    time: delivery.receivedAt,
    region: 'eu-west-1',
    resources: [],
    detail: JSON.parse(entry.detail) as Record<string, unknown>,
  };
}

/** The pointer the real deliverer publishes for `verified`, made oversized by padding the caller did. */
async function pointerOf(
  verified: VerifiedDelivery,
  paths: readonly (readonly string[])[],
): Promise<EventEnvelope> {
  const published: BusEntry[] = [];
  const deliverer = new EventDeliverer({
    publisher: { publish: async (entry) => (published.push(entry), 'id') },
    spool: { put: async () => undefined },
    bodies: { put: async (key) => ({ bucket: 'bodies', key }) },
    log: { warn: () => undefined, error: () => undefined },
    routingPaths: paths,
  });
  await deliverer.deliver(verified);
  const [entry] = published;
  if (!entry || !JSON.parse(entry.detail).delivery.oversized) throw new Error('expected a pointer event');
  return envelope(entry);
}

const PADDING = 'p'.repeat(INLINE_ENTRY_LIMIT_BYTES);

/** The same delivery inline (as if there were no size limit) and as its pointer event. */
async function bothForms(
  body: Record<string, unknown>,
  detailType: string,
  paths = routingPaths,
): Promise<[EventEnvelope, EventEnvelope]> {
  const padded = { ...body, kitebridge_test_padding: PADDING };
  const text = JSON.stringify(padded);
  const verified = {
    kind: 'buildkite' as const,
    detailType,
    body: padded,
    text,
    rawBody: Buffer.from(text),
    delivery,
  };
  const inline = envelope({ source: BUILDKITE_SOURCE, detailType, detail: detailText(verified) });
  return [inline, await pointerOf(verified, paths)];
}

async function bothTriggerForms(
  payload: unknown,
  trigger: string,
  paths = routingPaths,
): Promise<[EventEnvelope, EventEnvelope]> {
  const text = JSON.stringify(payload, null, 1) + ' '.repeat(INLINE_ENTRY_LIMIT_BYTES);
  const verified = {
    kind: 'trigger' as const,
    trigger,
    body: payload,
    text,
    rawBody: Buffer.from(text),
    headers: { 'content-type': 'application/json' },
    delivery,
  };
  const detailType = triggerDetailType(trigger);
  const inline = envelope({ source: TRIGGER_SOURCE, detailType, detail: triggerDetailText(verified) });
  return [inline, await pointerOf(verified, paths)];
}

/** Every rule id some inline event matched: the cases must exercise every rule, not only the catch-alls. */
const exercised = new Set<string>();

/** Rule ids whose pattern matches the event. */
function matched(event: EventEnvelope): string[] {
  const ids = rules
    .filter((rule) => matchesPattern(rule.pattern, event as unknown as Record<string, unknown>))
    .map((r) => r.id);
  const pointer = (event.detail.delivery as { oversized?: unknown } | undefined)?.oversized;
  if (!pointer) ids.forEach((id) => exercised.add(id));
  return ids;
}

describe('the synthesized stack', () => {
  it('attaches the built-in consumers, every trigger and the user consumer to the bus', () => {
    // chat alerts, autoscaler, analytics, tail, 4 triggers, TeamCore
    expect(rules.length).toBeGreaterThanOrEqual(9);
  });

  it('gives the verify function the path of every rule field, the user consumer included', () => {
    const paths = routingPaths.map((p) => p.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining([
        'job.agent_query_rules',
        'agent.meta_data',
        'payload.action',
        'payload.pull_request.merged',
        'payload.data.estimate',
        'build.meta_data.team',
        'job.retry_source.retry_type',
        'build.pull_request',
      ]),
    );
  });
});

describe('an oversized delivery matches the same rules as the same delivery inline', () => {
  const bodies = webhookBodies();
  it.each(bodies.map((b) => [b.name, b] as const))('%s', async (_name, { body, detailType }) => {
    const [inline, pointer] = await bothForms(body, detailType);
    expect(matched(pointer)).toEqual(matched(inline));
  });

  // Bodies each trigger's filter accepts, besides the captured ones (which its filter may not).
  const accepted = [
    {
      name: 'merged pull request',
      raw: Buffer.from(''),
      body: { action: 'closed', pull_request: { merged: true } },
    },
    { name: 'estimated issue', raw: Buffer.from(''), body: { type: 'Issue', data: { estimate: 5 } } },
    { name: 'urgent incident', raw: Buffer.from(''), body: { incident: { urgency: 'high' } } },
  ];
  const triggers = [...triggerBodies(), ...accepted];
  it.each(triggers.flatMap((t) => TRIGGERS.map((trigger) => [t.name, trigger.name, t.body] as const)))(
    'trigger body %s on %s',
    async (_name, trigger, payload) => {
      const [inline, pointer] = await bothTriggerForms(payload, trigger);
      expect(matched(pointer)).toEqual(matched(inline));
    },
  );

  /** Values the rules look for, so generated bodies hit both sides of every condition. */
  const interesting = fc.oneof(
    fc.constantFrom('failed', 'passed', 'closed', 'Issue', 'high', 'core', 'manual', 'Release 1', 'x.git'),
    fc.constantFrom('queue=linux', 'queue=deploy', 'queue=other', ['queue=linux', 'os=linux'], ['os=linux']),
    fc.constantFrom(true, false, null, 0, 3, 2.5),
    fc.constant({ team: 'core' }),
    fc.constant([{ nested: 'x' }]),
  );
  /** A path a rule names (or a neighbour of one), so mutations land where patterns look. */
  const rulePath = fc.constantFrom(...routingPaths.filter((p) => p[0] !== 'payload'));
  const mutation = fc.record({ path: rulePath, value: fc.option(interesting, { nil: undefined }) });

  function mutate(
    body: Record<string, unknown>,
    path: readonly string[],
    value: unknown,
  ): Record<string, unknown> {
    const copy = structuredClone(body);
    let at: Record<string, unknown> = copy;
    for (const key of path.slice(0, -1)) {
      const next = at[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) at[key] = {};
      at = at[key] as Record<string, unknown>;
    }
    const last = path[path.length - 1] as string;
    if (value === undefined) delete at[last];
    else at[last] = value;
    return copy;
  }

  it('for generated variations of every body (fields the rules name set, changed or removed)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bodies),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        async (source, mutations) => {
          const body = mutations.reduce((b, m) => mutate(b, m.path, m.value), source.body);
          const [inline, pointer] = await bothForms(body, source.detailType);
          expect(matched(pointer)).toEqual(matched(inline));
        },
      ),
      { numRuns: 300, seed: 20261206 },
    );
  });

  it('for generated trigger payloads on every trigger', async () => {
    const payloadPath = fc.constantFrom(
      ...routingPaths.filter((p) => p[0] === 'payload').map((p) => p.slice(1)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...triggerBodies().map((t) => t.body as Record<string, unknown>)),
        fc.array(fc.record({ path: payloadPath, value: fc.option(interesting, { nil: undefined }) }), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.constantFrom(...TRIGGERS.map((t) => t.name)),
        async (source, mutations, trigger) => {
          const payload = mutations.reduce((b, m) => mutate(b, m.path, m.value), source);
          const [inline, pointer] = await bothTriggerForms(payload, trigger);
          expect(matched(pointer)).toEqual(matched(inline));
        },
      ),
      { numRuns: 200, seed: 20261206 },
    );
  });

  it('exercised every rule on the bus (each matched at least one case)', () => {
    expect([...exercised].sort()).toEqual(rules.map((r) => r.id).sort());
  });

  it('would not hold with only the baseline fields (the check can fail)', async () => {
    const merged = { action: 'closed', pull_request: { merged: true, title: 'x' } };
    const [inline, pointer] = await bothTriggerForms(merged, 'github-deploy', []);
    expect(matched(inline)).not.toEqual(matched(pointer));
    const core = { event: 'build.finished', build: { meta_data: { team: 'core' }, message: 'Release 2' } };
    const [inlineBuild, pointerBuild] = await bothForms(core, 'build.finished', []);
    expect(matched(inlineBuild)).not.toEqual(matched(pointerBuild));
  });
});
