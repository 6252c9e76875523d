/**
 * `npm run sample`: sends a generated two-week CI history to the running local kitebridge, so that
 * `npm run report` has something realistic to draw. Four pipelines build on weekdays (a few builds
 * each, on `main` and another branch), every job is `job.scheduled` → `job.started` →
 * `job.finished` and every build ends with `build.finished`, with queue waits and durations per
 * agent queue, some failures, a flaky step that passes on an automatic retry, and a few lost
 * agents.
 *
 *   npm run sample [-- --seed N] [--url URL] [--token T]
 *
 * Every delivery is signed (`X-Buildkite-Signature`) with the token `npm run send` would use:
 * `--token`, else `$KITEBRIDGE_TOKEN`, else the dev token `npm start` wrote. The history is a pure
 * function of the seed and the current UTC date: it covers the 14 days before today, so sending it
 * twice on one day sends the same bodies, which the queries count once (same dedupe key).
 */
import { parseArgs as parseCommandLine } from 'node:util';
import {
  sendBody,
  describeFailure,
  hintForAnswer,
  parseArgs as parseSendArgs,
  reportUsage,
  UsageError,
  type SendOptions,
} from '../local/send';
import { prng } from '../support/prng';
import { runCommand } from './command';

/** One generated delivery: the Buildkite event name, when it happened, and the body Buildkite would send. */
export interface SampleDelivery {
  readonly event: string;
  /** When the event happened (ISO-8601), the order deliveries are sent in. */
  readonly at: string;
  readonly body: Readonly<Record<string, unknown>>;
}

export interface SampleOptions {
  readonly seed: number;
  /** The history covers the 14 whole UTC days before this instant's day. */
  readonly now: Date;
}

/** The default seed of `npm run sample`. */
export const DEFAULT_SEED = 4;
/** Days of history, ending at the start of today (UTC). */
export const SAMPLE_DAYS = 14;

const ORG = 'acme';
const DAY_MS = 86_400_000;

type Random = () => number;

const between = (random: Random, min: number, max: number) => min + random() * (max - min);
const integer = (random: Random, min: number, max: number) => Math.floor(between(random, min, max + 1));
const hex = (random: Random, length: number) =>
  Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join('');
const uuid = (random: Random) =>
  `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-${(8 + Math.floor(random() * 4)).toString(16)}${hex(random, 3)}-${hex(random, 12)}`;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

/** `2026-06-03T04:15:41.618Z`: how Buildkite times builds and jobs. */
const iso = (ms: number) => new Date(Math.round(ms)).toISOString();
/** `2026-06-03 04:09:27 UTC`: how Buildkite times agent events. */
const agentTime = (ms: number) => `${iso(ms).slice(0, 19).replace('T', ' ')} UTC`;

interface StepSpec {
  readonly key: string;
  readonly label: string;
  readonly queue: string;
  /** Run time in seconds when it passes. */
  readonly seconds: readonly [number, number];
  /** Chance that it fails for real (a failed build), before the branch's extra risk. */
  readonly failRate: number;
  /** Chance that a first attempt fails and an automatic retry passes. */
  readonly flakyRate?: number;
  /** Runs once every other step has passed (a deploy), on `main` only. */
  readonly deploy?: boolean;
}

interface PipelineSpec {
  readonly slug: string;
  readonly name: string;
  /** Branches with their weight (how often they build) and extra failure risk per step. */
  readonly branches: readonly { readonly name: string; readonly weight: number; readonly risk: number }[];
  /** Builds per weekday. */
  readonly perDay: readonly [number, number];
  readonly steps: readonly StepSpec[];
}

/** The sample organization. Shapes follow the picture in the README: three queues, one flaky job. */
const PIPELINES: readonly PipelineSpec[] = [
  {
    slug: 'deploy-api',
    name: 'Deploy API',
    branches: [
      { name: 'main', weight: 3, risk: 0 },
      { name: 'release/2.4', weight: 1, risk: 0.02 },
    ],
    perDay: [2, 4],
    steps: [
      { key: 'lint', label: ':eslint: Lint', queue: 'linux-arm64', seconds: [25, 70], failRate: 0.02 },
      {
        key: 'unit-tests',
        label: ':jest: Unit tests',
        queue: 'linux-arm64',
        seconds: [110, 260],
        failRate: 0.05,
        flakyRate: 0.25,
      },
      {
        key: 'integration',
        label: ':docker: Integration tests',
        queue: 'linux-arm64',
        seconds: [180, 420],
        failRate: 0.06,
      },
      {
        key: 'deploy',
        label: ':rocket: Deploy',
        queue: 'linux-arm64',
        seconds: [60, 140],
        failRate: 0.03,
        deploy: true,
      },
    ],
  },
  {
    slug: 'web-app',
    name: 'Web App',
    branches: [
      { name: 'main', weight: 2, risk: 0 },
      { name: 'feature/login', weight: 1, risk: 0.15 },
    ],
    perDay: [2, 4],
    steps: [
      { key: 'build', label: ':webpack: Build', queue: 'linux-arm64', seconds: [50, 110], failRate: 0.03 },
      {
        key: 'browser-tests',
        label: ':windows: Browser tests',
        queue: 'windows',
        seconds: [90, 200],
        failRate: 0.05,
        flakyRate: 0.08,
      },
    ],
  },
  {
    slug: 'ml-models',
    name: 'ML Models',
    branches: [{ name: 'main', weight: 1, risk: 0.03 }],
    perDay: [0, 2],
    steps: [
      { key: 'train', label: ':brain: Train', queue: 'gpu', seconds: [360, 900], failRate: 0.06 },
      { key: 'evaluate', label: ':bar_chart: Evaluate', queue: 'gpu', seconds: [90, 240], failRate: 0.04 },
    ],
  },
  {
    slug: 'docs',
    name: 'Docs',
    branches: [{ name: 'main', weight: 1, risk: 0 }],
    perDay: [0, 2],
    steps: [
      {
        key: 'build-site',
        label: ':hugo: Build site',
        queue: 'linux-arm64',
        seconds: [25, 55],
        failRate: 0.02,
      },
      {
        key: 'link-check',
        label: ':link: Link check',
        queue: 'linux-arm64',
        seconds: [15, 40],
        failRate: 0.1,
      },
    ],
  },
];

const AUTHORS = [
  { username: 'dwhitfield', name: 'Dana Whitfield' },
  { username: 'praman', name: 'Priya Raman' },
  { username: 'tokafor', name: 'Tobi Okafor' },
  { username: 'mlindqvist', name: 'Maja Lindqvist' },
];

const MESSAGES = [
  'Retry S3 artifact uploads with exponential backoff',
  'Bump aws-sdk to the latest minor',
  'Add pagination to the builds endpoint',
  'Fix flaky date formatting in the audit log',
  'Cache dependency installs between steps',
  'Split the integration suite by service',
  'Tidy up the login form validation',
  'Document the release checklist',
];

/** Seconds a job waits for an agent on each queue: usually short, now and then a scale-out. */
function queueWait(random: Random, queue: string): number {
  switch (queue) {
    case 'gpu':
      return random() < 0.3 ? between(random, 240, 660) : between(random, 30, 180);
    case 'windows':
      return random() < 0.15 ? between(random, 150, 360) : between(random, 15, 90);
    default:
      return random() < 0.1 ? between(random, 60, 240) : between(random, 2, 25);
  }
}

interface Agent {
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  readonly connectedAt: number;
}

function agentPool(random: Random, queue: string, size: number, since: number): Agent[] {
  return Array.from({ length: size }, (_, i) => ({
    id: uuid(random),
    name: `${ORG}-${queue}-i-0${hex(random, 16)}-${i + 1}`,
    queue,
    connectedAt: since - integer(random, 1, 6) * 3_600_000,
  }));
}

function agentObject(agent: Agent, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: agent.id,
    url: `https://api.buildkite.com/v2/organizations/${ORG}/agents/${agent.id}`,
    web_url: `https://buildkite.com/organizations/${ORG}/agents/${agent.id}`,
    name: agent.name,
    hostname: agent.name,
    version: '3.98.2',
    meta_data: [`queue=${agent.queue}`, agent.queue === 'windows' ? 'os=windows' : 'os=linux'],
    ...extra,
  };
}

function pipelineObject(p: PipelineSpec): Record<string, unknown> {
  return {
    id: uuidFor(p.slug),
    url: `https://api.buildkite.com/v2/organizations/${ORG}/pipelines/${p.slug}`,
    web_url: `https://buildkite.com/${ORG}/${p.slug}`,
    name: p.name,
    slug: p.slug,
    repository: `git@github.com:${ORG}/${p.slug}.git`,
    default_branch: 'main',
    provider: { id: 'github' },
  };
}

/** A stable id for a name (pipelines keep theirs whatever the seed). */
function uuidFor(name: string): string {
  let h = 0x811c9dc5;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return uuid(prng(h));
}

interface Attempt {
  readonly id: string;
  readonly step: StepSpec;
  readonly scheduledAt: number;
  readonly runnableAt: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly passed: boolean;
  readonly agent: Agent;
  /** 0 for a first attempt, 1 for an automatic retry. */
  readonly retry: number;
  /** The attempt that replaced this one, for a retried attempt. */
  retriedBy?: string;
}

/**
 * The history for a seed: every delivery, in the order of the events (`at`). Pure: the same seed
 * and the same UTC day of `now` give the same bodies.
 */
export function sampleHistory(options: SampleOptions): SampleDelivery[] {
  const random = prng(options.seed);
  const end = Math.floor(options.now.getTime() / DAY_MS) * DAY_MS;
  const start = end - SAMPLE_DAYS * DAY_MS;
  const pools = new Map(
    ['linux-arm64', 'windows', 'gpu'].map((queue) => [
      queue,
      agentPool(random, queue, queue === 'linux-arm64' ? 8 : 3, start),
    ]),
  );
  const deliveries: SampleDelivery[] = [];
  const push = (event: string, at: number, body: Record<string, unknown>) =>
    deliveries.push({ event, at: iso(at), body: { event, ...body } });

  // Builds happen on weekdays, in one busy hour a day, so the per-hour queue-wait chart has about
  // ten columns; the hour moves from day to day.
  const builds: { pipeline: PipelineSpec; at: number }[] = [];
  const busyHours: number[] = [];
  for (let day = start; day < end; day += DAY_MS) {
    const weekday = new Date(day).getUTCDay();
    if (weekday === 0 || weekday === 6) continue;
    const hour = day + integer(random, 8, 16) * 3_600_000;
    busyHours.push(hour);
    for (const pipeline of PIPELINES) {
      const count = integer(random, pipeline.perDay[0], pipeline.perDay[1]);
      for (let i = 0; i < count; i++) builds.push({ pipeline, at: hour + between(random, 0, 30 * 60_000) });
    }
  }
  builds.sort((a, b) => a.at - b.at);

  const numbers = new Map(PIPELINES.map((p, i) => [p.slug, 1000 + i * 700]));
  for (const { pipeline, at } of builds) {
    const number = (numbers.get(pipeline.slug) ?? 0) + 1;
    numbers.set(pipeline.slug, number);
    const totalWeight = pipeline.branches.reduce((sum, b) => sum + b.weight, 0);
    let roll = random() * totalWeight;
    const branch = pipeline.branches.find((b) => (roll -= b.weight) < 0) ?? pipeline.branches[0]!;
    const author = pick(random, AUTHORS);
    const build = {
      id: uuid(random),
      number,
      url: `https://api.buildkite.com/v2/organizations/${ORG}/pipelines/${pipeline.slug}/builds/${number}`,
      web_url: `https://buildkite.com/${ORG}/${pipeline.slug}/builds/${number}`,
      message: pick(random, MESSAGES),
      commit: hex(random, 40),
      branch: branch.name,
      source: 'webhook',
      author: { ...author, email: `${author.username}@${ORG}.example` },
      blocked: false,
      created_at: iso(at),
      scheduled_at: iso(at),
      started_at: iso(at + between(random, 2_000, 6_000)),
    };
    const buildStarted = Date.parse(build.started_at);
    const common = {
      pipeline: pipelineObject(pipeline),
      sender: { id: uuidFor(author.username), name: author.name },
    };
    const attempts: Attempt[] = [];

    const run = (step: StepSpec, runnableAt: number, retry: number, outcome: 'pass' | 'fail'): Attempt => {
      const startedAt = runnableAt + queueWait(random, step.queue) * 1000;
      const seconds =
        outcome === 'pass'
          ? between(random, step.seconds[0], step.seconds[1])
          : between(random, step.seconds[0] * 0.3, step.seconds[1]);
      const attempt: Attempt = {
        id: uuid(random),
        step,
        scheduledAt: runnableAt - 50,
        runnableAt,
        startedAt,
        finishedAt: startedAt + seconds * 1000,
        passed: outcome === 'pass',
        agent: pick(random, pools.get(step.queue)!),
        retry,
      };
      attempts.push(attempt);
      return attempt;
    };

    // The test steps run side by side from the start of the build; a deploy runs after them.
    let failed = false;
    let lastFinished = buildStarted;
    for (const step of pipeline.steps.filter((s) => !s.deploy)) {
      const fails = random() < step.failRate + branch.risk;
      const flaky = !fails && random() < (step.flakyRate ?? 0);
      let attempt = run(
        step,
        buildStarted + between(random, 1_000, 8_000),
        0,
        fails || flaky ? 'fail' : 'pass',
      );
      if (flaky) {
        const retry = run(step, attempt.finishedAt + between(random, 500, 3_000), 1, 'pass');
        attempt.retriedBy = retry.id;
        attempt = retry;
      }
      failed ||= fails;
      lastFinished = Math.max(lastFinished, attempt.finishedAt);
    }
    for (const step of pipeline.steps.filter((s) => s.deploy)) {
      if (failed || branch.name !== 'main') continue;
      const fails = random() < step.failRate;
      const attempt = run(step, lastFinished + between(random, 1_000, 4_000), 0, fails ? 'fail' : 'pass');
      failed ||= fails;
      lastFinished = attempt.finishedAt;
    }
    const finishedAt = lastFinished + between(random, 1_000, 3_000);
    const buildState = failed ? 'failed' : 'passed';

    for (const a of attempts) {
      const job = (state: string) => {
        const done = state === 'passed' || state === 'failed';
        return {
          id: a.id,
          type: 'script',
          name: a.step.label,
          step_key: a.step.key,
          agent_query_rules: [`queue=${a.step.queue}`],
          state,
          web_url: `${build.web_url}#${a.id}`,
          log_url: `${build.url}/jobs/${a.id}/log`,
          command: `./ci/${a.step.key}.sh`,
          soft_failed: false,
          exit_status: done ? (a.passed ? 0 : 1) : null,
          agent: state === 'scheduled' ? null : agentObject(a.agent, { connection_state: 'connected' }),
          created_at: iso(a.scheduledAt),
          scheduled_at: iso(a.scheduledAt),
          runnable_at: iso(a.runnableAt),
          started_at: state === 'scheduled' ? null : iso(a.startedAt),
          finished_at: done ? iso(a.finishedAt) : null,
          retried: done && a.retriedBy !== undefined,
          retried_in_job_id: done ? (a.retriedBy ?? null) : null,
          retries_count: a.retry,
          retry_type: a.retry > 0 ? 'automatic' : null,
          parallel_group_index: null,
          parallel_group_total: null,
        };
      };
      const running = { ...build, state: 'running', finished_at: null };
      push('job.scheduled', a.scheduledAt, { job: job('scheduled'), build: running, ...common });
      push('job.started', a.startedAt, { job: job('running'), build: running, ...common });
      push('job.finished', a.finishedAt, {
        job: job(a.passed ? 'passed' : 'failed'),
        build: running,
        ...common,
      });
    }
    push('build.finished', finishedAt, {
      build: { ...build, state: buildState, finished_at: iso(finishedAt) },
      ...common,
    });
  }

  // Lost agents: a spot instance reclaimed between jobs, on three of the busy days.
  const lossDays = [...busyHours];
  for (let i = lossDays.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [lossDays[i], lossDays[j]] = [lossDays[j]!, lossDays[i]!];
  }
  lossDays.slice(0, 3).forEach((hour, i) => {
    const queues = i === 0 ? ['linux-arm64', 'linux-arm64'] : [i === 1 ? 'gpu' : 'windows'];
    queues.forEach((queue, j) => {
      const agent = pools.get(queue)![j]!;
      const lostAt = hour + between(random, 35 * 60_000, 55 * 60_000);
      push('agent.lost', lostAt, {
        agent: agentObject(agent, {
          connection_state: 'lost',
          created_at: agentTime(agent.connectedAt - 3_000),
          connected_at: agentTime(agent.connectedAt),
          disconnected_at: agentTime(lostAt),
          lost_at: agentTime(lostAt),
          stopped_at: null,
          last_job_finished_at: agentTime(lostAt - between(random, 60_000, 600_000)),
          job: null,
        }),
        sender: { id: uuidFor('praman'), name: 'Priya Raman' },
      });
    });
  });

  return deliveries.sort((a, b) => a.at.localeCompare(b.at));
}

export const USAGE = `Usage: npm run sample [-- --seed N] [--url URL] [--token T]

Sends a generated two-week CI history (four pipelines, their jobs, failures, a flaky step, lost
agents) to the local kitebridge as signed deliveries; then \`npm run report\` draws it.

  --seed N     another history (default ${DEFAULT_SEED}); the same seed on the same day sends the same bodies
  --url URL    endpoint (default http://127.0.0.1:$PORT/buildkite, PORT defaults to 8787)
  --token T    sign with T (default: $KITEBRIDGE_TOKEN, else the dev token \`npm start\` wrote)
  --help       show this help

Start \`npm start\` first, and give this command the same PORT and KITEBRIDGE_DATA_DIR.`;

/**
 * Reads the command line: the seed, and where and how to send, resolved by `npm run send`'s own
 * parser (endpoint, and the token from `--token`, `$KITEBRIDGE_TOKEN` or the dev-token file). The
 * deliveries are always signed, as Buildkite does in its "sign the payload" mode.
 */
export function resolveOptions(argv: string[], env: NodeJS.ProcessEnv): { seed: number; send: SendOptions } {
  let values: { seed?: string; url?: string; token?: string; help?: boolean };
  try {
    ({ values } = parseCommandLine({
      args: argv,
      options: {
        seed: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) throw new UsageError(USAGE, true);
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new UsageError(`--seed must be a whole number, not "${values.seed}".\n\n${USAGE}`);
  }
  // send's parser wants a body to send; any fixture does, since the sample sends its own bodies.
  const resolved = parseSendArgs(
    [
      'ping',
      ...(values.url ? ['--url', values.url] : []),
      ...(values.token ? ['--token', values.token] : []),
    ],
    env,
  );
  return { seed, send: { ...resolved, mode: 'signature', file: `the sample history (seed ${seed})` } };
}

/** Answers other than 2xx stop the run: nothing after them is sent. */
export class SampleSendError extends Error {
  constructor(
    message: string,
    readonly sent: number,
  ) {
    super(message);
    this.name = 'SampleSendError';
  }
}

/**
 * Sends each delivery once, in order, signed at the time it is sent (the replay window applies to
 * the signature, not to the history's own timestamps). Returns how many were accepted.
 */
export async function sendHistory(
  deliveries: readonly SampleDelivery[],
  options: SendOptions,
): Promise<number> {
  let sent = 0;
  for (const delivery of deliveries) {
    let status: number;
    let text: string;
    try {
      ({ status, body: text } = await sendBody(options, Buffer.from(JSON.stringify(delivery.body))));
    } catch (error) {
      throw new SampleSendError(describeFailure(error, options), sent);
    }
    if (status < 200 || status >= 300) {
      const hint = hintForAnswer(status, text, options);
      throw new SampleSendError(
        `${delivery.event} at ${delivery.at} was answered ${status} ${text}${hint ? `\n${hint}` : ''}`,
        sent,
      );
    }
    sent++;
  }
  return sent;
}

async function main(argv: string[]): Promise<number> {
  let options: { seed: number; send: SendOptions };
  try {
    options = resolveOptions(argv, process.env);
  } catch (error) {
    return reportUsage(error);
  }
  const deliveries = sampleHistory({ seed: options.seed, now: new Date() });
  const builds = deliveries.filter((d) => d.event === 'build.finished').length;
  console.log(
    `Sending ${deliveries.length} signed deliveries (${builds} builds over the ${SAMPLE_DAYS} days before today, seed ${options.seed}) to ${options.send.url} (token from ${options.send.tokenSource})…`,
  );
  try {
    await sendHistory(deliveries, options.send);
  } catch (error) {
    const sent = error instanceof SampleSendError ? ` after ${error.sent} accepted` : '';
    console.error(`Stopped${sent}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  console.log(
    `All ${deliveries.length} accepted. Now run \`npm run report\` (with the same KITEBRIDGE_DATA_DIR).`,
  );
  return 0;
}

if (require.main === module) runCommand('sample', main);
