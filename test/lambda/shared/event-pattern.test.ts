import { matchesPattern, validatePattern, type EventPattern } from '../../../lambda/shared/event-pattern';

/**
 * Cases are taken from the Amazon EventBridge user guide (section cited above each group) and
 * adapted to a Buildkite job.finished event; where the guide is silent, from aws/event-ruler's
 * README and from behaviour recorded against real EventBridge (LocalStack's snapshot-verified
 * event_pattern_templates, cited by template name).
 */

type Json = Record<string, unknown>;
/** A patch: objects merge recursively, other values replace, `undefined` removes the key. */
type Patch = Record<string, unknown>;
type MatchCase = [name: string, pattern: EventPattern, event: Json, expected: boolean];

const DETAIL: Json = {
  event: 'job.finished',
  build: {
    id: '01904a1e-2f3c-4b5d-9e6f-7a8b9c0d1e2f',
    number: 42,
    state: 'failed',
    branch: 'main',
    message: 'Bump *all* the deps',
    commit: 'c0ffee1',
    blocked: false,
    source: 'webhook',
    pull_request: null,
    web_url: 'https://buildkite.com/acme/kitebridge/builds/42',
    meta_data: { 'release-version': '1.2.0' },
  },
  pipeline: { slug: 'kitebridge', name: 'Kitebridge', repository: 'git@github.com:acme/kitebridge.git' },
  job: {
    id: '01904a1e-aaaa-4b5d-9e6f-000000000001',
    type: 'script',
    name: ':jest: Unit tests',
    step_key: 'unit',
    state: 'finished',
    exit_status: 1,
    soft_failed: false,
    agent_query_rules: ['queue=linux', 'os=ubuntu'],
    artifact_paths: 'src/lib/report.xml',
    working_dir: 'C:\\buildkite\\builds',
    duration_s: 301.8,
  },
  artifacts: [
    { path: 'coverage/lcov.info', state: 'finished' },
    { path: 'dist/app.tgz', state: 'error' },
  ],
  sender: { id: 'u-1', name: 'Ada Lovelace' },
  delivery: {
    receivedAt: '2024-05-02T10:15:30.123Z',
    requestId: 'req-1',
    dedupeKey: 'ab12cd34',
    auth: 'signature',
    sourceIp: '10.0.0.33',
  },
};

const ENVELOPE: Json = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'job.finished',
  source: 'buildkite',
  account: '123456789012',
  time: '2024-05-02T10:15:30Z',
  region: 'eu-west-1',
  resources: [],
};

function isPlain(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function merge(base: Json, patch: Patch): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key];
    if (value === undefined) delete out[key];
    else if (isPlain(value) && isPlain(current)) out[key] = merge(current, value);
    else out[key] = value;
  }
  return out;
}

/** A full EventBridge envelope around a Buildkite job.finished body, with optional patches. */
function buildkiteEvent(detail: Patch = {}, envelope: Patch = {}): Json {
  return merge(ENVELOPE, { ...envelope, detail: merge(DETAIL, detail) });
}

const E = buildkiteEvent();

const groups: Record<string, MatchCase[]> = {
  // "Creating event patterns" (eb-event-patterns.html): matching event values, nesting,
  // exact character-by-character matching, and every pattern field must match (AND).
  'event patterns: values, nesting, AND': [
    ['source matches', { source: ['buildkite'] }, E, true],
    ['array of values is OR (source is aws.ec2 or buildkite)', { source: ['aws.ec2', 'buildkite'] }, E, true],
    ['no value in the array matches', { source: ['aws.ec2', 'aws.fargate'] }, E, false],
    [
      'three fields, all match (doc EC2 example, adapted)',
      { source: ['buildkite'], 'detail-type': ['job.finished'], detail: { build: { state: ['failed'] } } },
      E,
      true,
    ],
    [
      'three fields, one does not match: AND',
      { source: ['buildkite'], 'detail-type': ['job.finished'], detail: { build: { state: ['passed'] } } },
      E,
      false,
    ],
    ['only the fields named are looked at', { detail: { event: ['job.finished'] } }, E, true],
    ['matching is case-sensitive', { source: ['Buildkite'] }, E, false],
    ['field names are case-sensitive', { Source: ['buildkite'] }, E, false],
    ['field absent from the event', { detail: { build: { rebuilt_from: ['x'] } } }, E, false],
    ['same name at another nesting level does not match', { detail: { state: ['failed'] } }, E, false],
    ['number matches number', { detail: { build: { number: [42] } } }, E, true],
    ['different number', { detail: { build: { number: [43] } } }, E, false],
    ['string "42" does not match number 42', { detail: { build: { number: ['42'] } } }, E, false],
    [
      'number 42 does not match string "42"',
      { detail: { build: { number: [42] } } },
      buildkiteEvent({ build: { number: '42' } }),
      false,
    ],
    ['numbers compare by value: 3.018e2 is 301.8', { detail: { job: { duration_s: [3.018e2] } } }, E, true],
    ['boolean false matches false', { detail: { build: { blocked: [false] } } }, E, true],
    ['boolean true does not match false', { detail: { build: { blocked: [true] } } }, E, false],
    ['string "false" does not match boolean false', { detail: { build: { blocked: ['false'] } } }, E, false],
    ['plain values never glob', { 'detail-type': ['job.*'] }, E, false],
    ['a pattern can match on the account', { account: ['123456789012'] }, E, true],
  ],

  // "Arrays in Amazon EventBridge event patterns" (eb-event-patterns-arrays.html): when the event
  // value is an array, the pattern matches if the intersection is non-empty.
  arrays: [
    [
      'doc example: first pattern ARN is the second event ARN',
      {
        resources: [
          'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
          'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f',
          'arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f',
        ],
      },
      buildkiteEvent(
        {},
        {
          resources: [
            'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate',
            'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
          ],
        },
      ),
      true,
    ],
    [
      'doc example: no common ARN',
      { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] },
      buildkiteEvent({}, { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-00000000'] }),
      false,
    ],
    [
      'one element of the event array matches',
      { detail: { job: { agent_query_rules: ['queue=linux'] } } },
      E,
      true,
    ],
    [
      'no element of the event array matches',
      { detail: { job: { agent_query_rules: ['queue=windows'] } } },
      E,
      false,
    ],
    [
      'operators apply to each element',
      { detail: { job: { agent_query_rules: [{ prefix: 'os=' }] } } },
      E,
      true,
    ],
    // LocalStack arrays_empty_null_NEG: an empty array holds no value, not null.
    ['empty event array does not match [null]', { resources: [null] }, E, false],
    // event-ruler README "JSON Array Matching": objects in arrays are matched element by element.
    ['object in an event array', { detail: { artifacts: { path: ['dist/app.tgz'] } } }, E, true],
    [
      'fields of one array element match together',
      { detail: { artifacts: { path: ['dist/app.tgz'], state: ['error'] } } },
      E,
      true,
    ],
    [
      'fields from different array elements do not combine',
      { detail: { artifacts: { path: ['dist/app.tgz'], state: ['finished'] } } },
      E,
      false,
    ],
    [
      'nested arrays are flattened',
      { detail: { labels: ['flaky'] } },
      buildkiteEvent({ labels: [['infra', 'flaky'], ['slow']] }),
      true,
    ],
  ],

  // "Matching null values and empty strings" (eb-event-patterns-null-values.html).
  'null values and empty strings': [
    ['[null] matches a null value', { detail: { build: { pull_request: [null] } } }, E, true],
    ['[""] does not match null', { detail: { build: { pull_request: [''] } } }, E, false],
    [
      '[""] matches an empty string',
      { detail: { build: { message: [''] } } },
      buildkiteEvent({ build: { message: '' } }),
      true,
    ],
    [
      '[null] does not match an empty string',
      { detail: { build: { message: [null] } } },
      buildkiteEvent({ build: { message: '' } }),
      false,
    ],
    [
      '[null] does not match a missing field',
      { detail: { build: { pull_request: [null] } } },
      buildkiteEvent({ build: { pull_request: undefined } }),
      false,
    ],
    ['a null value exists', { detail: { build: { pull_request: [{ exists: true }] } } }, E, true],
  ],

  // "Comparison operators" > Prefix matching, and prefix matching while ignoring case.
  prefix: [
    ['doc example: time starts with the date', { time: [{ prefix: '2024-05-02' }] }, E, true],
    ['time starts with another date', { time: [{ prefix: '2024-05-03' }] }, E, false],
    ['doc example: region begins with', { region: [{ prefix: 'eu-' }] }, E, true],
    ['region does not begin with us-', { region: [{ prefix: 'us-' }] }, E, false],
    ['prefix is case-sensitive', { detail: { pipeline: { name: [{ prefix: 'kite' }] } } }, E, false],
    ['prefix only matches strings', { detail: { build: { number: [{ prefix: '4' }] } } }, E, false],
    ['empty prefix matches any string', { detail: { build: { branch: [{ prefix: '' }] } } }, E, true],
    [
      'prefix equals-ignore-case',
      { detail: { pipeline: { name: [{ prefix: { 'equals-ignore-case': 'KITE' } }] } } },
      E,
      true,
    ],
    [
      'prefix equals-ignore-case, other prefix',
      { detail: { pipeline: { name: [{ prefix: { 'equals-ignore-case': 'BRIDGE' } }] } } },
      E,
      false,
    ],
  ],

  // "Comparison operators" > Suffix matching, and suffix matching while ignoring case.
  suffix: [
    ['ends with .git', { detail: { pipeline: { repository: [{ suffix: '.git' }] } } }, E, true],
    ['does not end with .png', { detail: { pipeline: { repository: [{ suffix: '.png' }] } } }, E, false],
    ['suffix is case-sensitive', { detail: { pipeline: { repository: [{ suffix: '.GIT' }] } } }, E, false],
    [
      'suffix equals-ignore-case',
      { detail: { pipeline: { repository: [{ suffix: { 'equals-ignore-case': '.GIT' } }] } } },
      E,
      true,
    ],
    ['suffix only matches strings', { detail: { job: { exit_status: [{ suffix: '1' }] } } }, E, false],
  ],

  // "Comparison operators" > Equals-ignore-case matching.
  'equals-ignore-case': [
    [
      'same letters, other case',
      { detail: { build: { state: [{ 'equals-ignore-case': 'FAILED' }] } } },
      E,
      true,
    ],
    ['not a prefix match', { detail: { build: { state: [{ 'equals-ignore-case': 'FAIL' }] } } }, E, false],
    ['only matches strings', { detail: { job: { exit_status: [{ 'equals-ignore-case': '1' }] } } }, E, false],
    // LocalStack content_ignorecase_empty_NEG.
    [
      'empty string matches only empty',
      { detail: { build: { state: [{ 'equals-ignore-case': '' }] } } },
      E,
      false,
    ],
    [
      'non-ASCII letters',
      { detail: { sender: { name: [{ 'equals-ignore-case': 'ÉCOLE' }] } } },
      buildkiteEvent({ sender: { name: 'école' } }),
      true,
    ],
  ],

  // "Comparison operators" > Anything-but matching (single value, list, prefix, suffix,
  // ignore case, wildcard). LocalStack templates record null/number/missing behaviour.
  'anything-but': [
    [
      'string: state is not passed',
      { detail: { build: { state: [{ 'anything-but': 'passed' }] } } },
      E,
      true,
    ],
    ['string: state is failed', { detail: { build: { state: [{ 'anything-but': 'failed' }] } } }, E, false],
    [
      'string list: not in the list',
      { detail: { build: { state: [{ 'anything-but': ['passed', 'canceled'] }] } } },
      E,
      true,
    ],
    [
      'string list: in the list',
      { detail: { build: { state: [{ 'anything-but': ['failed', 'canceled'] }] } } },
      E,
      false,
    ],
    ['number: exit status is not 0', { detail: { job: { exit_status: [{ 'anything-but': 0 }] } } }, E, true],
    [
      'number list: in the list',
      { detail: { job: { exit_status: [{ 'anything-but': [1, 2] }] } } },
      E,
      false,
    ],
    [
      'number list: not in the list',
      { detail: { job: { exit_status: [{ 'anything-but': [0, 255] }] } } },
      E,
      true,
    ],
    [
      'a value of another type is not excluded',
      { detail: { job: { exit_status: [{ 'anything-but': '1' }] } } },
      E,
      true,
    ],
    // LocalStack content_anything_but_string_null: null is anything but "initializing".
    [
      'null is anything but a string',
      { detail: { build: { pull_request: [{ 'anything-but': 'x' }] } } },
      E,
      true,
    ],
    // LocalStack content_anything_but_string_missing_NEG.
    [
      'never matches a missing field',
      { detail: { build: { rebuilt_from: [{ 'anything-but': 'x' }] } } },
      E,
      false,
    ],
    [
      'array: one element is not excluded',
      { detail: { job: { agent_query_rules: [{ 'anything-but': 'queue=linux' }] } } },
      E,
      true,
    ],
    [
      'array: every element excluded',
      { detail: { job: { agent_query_rules: [{ 'anything-but': ['queue=linux', 'os=ubuntu'] }] } } },
      E,
      false,
    ],
    [
      'prefix: branch does not begin with release/',
      { detail: { build: { branch: [{ 'anything-but': { prefix: 'release/' } }] } } },
      E,
      true,
    ],
    [
      'prefix: branch begins with release/',
      { detail: { build: { branch: [{ 'anything-but': { prefix: 'release/' } }] } } },
      buildkiteEvent({ build: { branch: 'release/1.2' } }),
      false,
    ],
    [
      'prefix list',
      { detail: { build: { branch: [{ 'anything-but': { prefix: ['release/', 'hotfix/'] } }] } } },
      buildkiteEvent({ build: { branch: 'hotfix/login' } }),
      false,
    ],
    // LocalStack content_anything_prefix_int_value.
    [
      'prefix: a number is not excluded',
      { detail: { build: { number: [{ 'anything-but': { prefix: '4' } }] } } },
      E,
      true,
    ],
    [
      'suffix: ends with .git',
      { detail: { pipeline: { repository: [{ 'anything-but': { suffix: '.git' } }] } } },
      E,
      false,
    ],
    [
      'suffix: does not end with .png',
      { detail: { pipeline: { repository: [{ 'anything-but': { suffix: '.png' } }] } } },
      E,
      true,
    ],
    [
      'equals-ignore-case: FAILED excludes failed',
      { detail: { build: { state: [{ 'anything-but': { 'equals-ignore-case': 'FAILED' } }] } } },
      E,
      false,
    ],
    [
      'equals-ignore-case: PASSED',
      { detail: { build: { state: [{ 'anything-but': { 'equals-ignore-case': 'PASSED' } }] } } },
      E,
      true,
    ],
    [
      'equals-ignore-case list',
      { detail: { build: { state: [{ 'anything-but': { 'equals-ignore-case': ['PASSED', 'Failed'] } }] } } },
      E,
      false,
    ],
    [
      'wildcard: doc example, path includes /lib/',
      { detail: { job: { artifact_paths: [{ 'anything-but': { wildcard: '*/lib/*' } }] } } },
      E,
      false,
    ],
    [
      'wildcard: path does not include /bin/',
      { detail: { job: { artifact_paths: [{ 'anything-but': { wildcard: '*/bin/*' } }] } } },
      E,
      true,
    ],
    [
      'wildcard list',
      { detail: { job: { artifact_paths: [{ 'anything-but': { wildcard: ['*/bin/*', '*/lib/*'] } }] } } },
      E,
      false,
    ],
    // LocalStack content_anything_wildcard_int.
    [
      'wildcard: a number is not excluded',
      { detail: { job: { exit_status: [{ 'anything-but': { wildcard: '*' } }] } } },
      E,
      true,
    ],
  ],

  // "Comparison operators" > Numeric matching (JSON numbers only, within ±5e9, six decimals).
  numeric: [
    ['doc range: > 0, <= 42', { detail: { build: { number: [{ numeric: ['>', 0, '<=', 42] }] } } }, E, true],
    [
      'range with open top: > 0, < 42',
      { detail: { build: { number: [{ numeric: ['>', 0, '<', 42] }] } } },
      E,
      false,
    ],
    ['range: >= 42, < 43', { detail: { build: { number: [{ numeric: ['>=', 42, '<', 43] }] } } }, E, true],
    ['= 42', { detail: { build: { number: [{ numeric: ['=', 42] }] } } }, E, true],
    ['= 41', { detail: { build: { number: [{ numeric: ['=', 41] }] } } }, E, false],
    ['< 100', { detail: { build: { number: [{ numeric: ['<', 100] }] } } }, E, true],
    ['<= 41', { detail: { build: { number: [{ numeric: ['<=', 41] }] } } }, E, false],
    ['>= 42', { detail: { build: { number: [{ numeric: ['>=', 42] }] } } }, E, true],
    ['> 42', { detail: { build: { number: [{ numeric: ['>', 42] }] } } }, E, false],
    [
      'doc x-limit: = 3.018e2 matches 301.8',
      { detail: { job: { duration_s: [{ numeric: ['=', 3.018e2] }] } } },
      E,
      true,
    ],
    ['negative bound', { detail: { job: { exit_status: [{ numeric: ['>', -1] }] } } }, E, true],
    // LocalStack numeric-string_NEG: a string that looks like a number is not a number.
    [
      'does not match a numeric string',
      { detail: { build: { number: [{ numeric: ['>', 0] }] } } },
      buildkiteEvent({ build: { number: '42' } }),
      false,
    ],
    [
      'an upper bound does not match a numeric string',
      { detail: { build: { number: [{ numeric: ['<', 100] }] } } },
      buildkiteEvent({ build: { number: '42' } }),
      false,
    ],
    ['does not match a boolean', { detail: { build: { blocked: [{ numeric: ['<', 1] }] } } }, E, false],
    // LocalStack numeric-null_NEG.
    ['does not match null', { detail: { build: { pull_request: [{ numeric: ['>', 0] }] } } }, E, false],
    [
      'does not match a missing field',
      { detail: { build: { retries: [{ numeric: ['>=', 0] }] } } },
      E,
      false,
    ],
    [
      'any element of an array',
      { detail: { job: { retries: [{ numeric: ['>', 4] }] } } },
      buildkiteEvent({ job: { retries: [1, 5] } }),
      true,
    ],
    [
      'six decimal places: 0.1 + 0.2 = 0.3',
      { detail: { job: { duration_s: [{ numeric: ['=', 0.3] }] } } },
      buildkiteEvent({ job: { duration_s: 0.1 + 0.2 } }),
      true,
    ],
    [
      'values beyond 5e9 are outside every range',
      { detail: { job: { duration_s: [{ numeric: ['>', 0] }] } } },
      buildkiteEvent({ job: { duration_s: 6e9 } }),
      false,
    ],
  ],

  // "Comparison operators" > IP address matching (IPv4 and IPv6 CIDR blocks).
  cidr: [
    ['doc example: 10.0.0.0/24', { detail: { delivery: { sourceIp: [{ cidr: '10.0.0.0/24' }] } } }, E, true],
    ['outside the block', { detail: { delivery: { sourceIp: [{ cidr: '10.0.1.0/24' }] } } }, E, false],
    ['/8 block', { detail: { delivery: { sourceIp: [{ cidr: '10.0.0.0/8' }] } } }, E, true],
    [
      'host bits in the block are ignored',
      { detail: { delivery: { sourceIp: [{ cidr: '10.0.0.77/24' }] } } },
      E,
      true,
    ],
    [
      '/0 matches every IPv4 address',
      { detail: { delivery: { sourceIp: [{ cidr: '0.0.0.0/0' }] } } },
      E,
      true,
    ],
    [
      'IPv6 in the block',
      { detail: { delivery: { sourceIp: [{ cidr: '2001:db8:1234:1a00::/64' }] } } },
      buildkiteEvent({ delivery: { sourceIp: '2001:db8:1234:1a00::17' } }),
      true,
    ],
    [
      'IPv6 outside the block',
      { detail: { delivery: { sourceIp: [{ cidr: '2001:db8:1234:1a00::/64' }] } } },
      buildkiteEvent({ delivery: { sourceIp: '2001:db8:1234:1b00::17' } }),
      false,
    ],
    ['IPv4 address, IPv6 block', { detail: { delivery: { sourceIp: [{ cidr: '::/0' }] } } }, E, false],
    [
      'not an address',
      { detail: { delivery: { sourceIp: [{ cidr: '10.0.0.0/8' }] } } },
      buildkiteEvent({ delivery: { sourceIp: 'localhost' } }),
      false,
    ],
    // LocalStack content_ip_address_bad_type_NEG.
    ['a number is not an address', { detail: { job: { exit_status: [{ cidr: '0.0.0.0/0' }] } } }, E, false],
  ],

  // "Comparison operators" > Exists matching: presence of a leaf value; it does not work on
  // intermediate nodes (doc: exists:false matches when c-count is an object).
  exists: [
    ['exists: true, present', { detail: { build: { state: [{ exists: true }] } } }, E, true],
    ['exists: true, absent', { detail: { build: { rebuilt_from: [{ exists: true }] } } }, E, false],
    ['exists: false, absent', { detail: { build: { rebuilt_from: [{ exists: false }] } } }, E, true],
    ['exists: false, present', { detail: { build: { state: [{ exists: false }] } } }, E, false],
    [
      'doc: exists: false matches an intermediate node',
      { detail: { build: { meta_data: [{ exists: false }] } } },
      E,
      true,
    ],
    // LocalStack exists_dynamodb_NEG.
    [
      'exists: true does not match an intermediate node',
      { detail: { build: { meta_data: [{ exists: true }] } } },
      E,
      false,
    ],
    // LocalStack exists_list_empty_NEG.
    ['exists: true, empty array', { resources: [{ exists: true }] }, E, false],
    ['exists: false, empty array', { resources: [{ exists: false }] }, E, true],
    ['exists: false, whole parent absent', { detail: { agent: { hostname: [{ exists: false }] } } }, E, true],
    ['exists: true, whole parent absent', { detail: { agent: { hostname: [{ exists: true }] } } }, E, false],
    // LocalStack list_within_dict.
    [
      'exists: true in one element of an array of objects',
      { detail: { artifacts: { path: [{ exists: true }] } } },
      E,
      true,
    ],
    // LocalStack or-exists: alternatives in one field, absence satisfies the second.
    [
      'anything-but or exists: false, absent',
      { detail: { build: { rebuilt_from: [{ 'anything-but': ['x'] }, { exists: false }] } } },
      E,
      true,
    ],
    [
      'exists: false beside another field',
      { detail: { build: { state: ['failed'], rebuilt_from: [{ exists: false }] } } },
      E,
      true,
    ],
  ],

  // "Comparison operators" > Wildcard matching: `*` matches zero or more characters; `\*` is a
  // literal asterisk and `\\` a literal backslash (event-ruler README, "Wildcard matching").
  wildcard: [
    ['detail-type job.*', { 'detail-type': [{ wildcard: 'job.*' }] }, E, true],
    ['detail-type build.*', { 'detail-type': [{ wildcard: 'build.*' }] }, E, false],
    [
      'doc style: file within a folder',
      { detail: { pipeline: { repository: [{ wildcard: 'git@github.com:*/kitebridge.git' }] } } },
      E,
      true,
    ],
    [
      'several wildcards in order',
      { detail: { pipeline: { repository: [{ wildcard: '*acme*kite*' }] } } },
      E,
      true,
    ],
    [
      'several wildcards out of order',
      { detail: { pipeline: { repository: [{ wildcard: '*kite*acme*' }] } } },
      E,
      false,
    ],
    ['* matches zero characters', { 'detail-type': [{ wildcard: 'job.finished*' }] }, E, true],
    ['no wildcard: whole string must match', { 'detail-type': [{ wildcard: 'job' }] }, E, false],
    // LocalStack content_wildcard_repeating / content_wildcard_nonrepeating_NEG.
    [
      'segment repeated after the wildcard',
      { detail: { build: { web_url: [{ wildcard: 'https://buildkite.com/*/builds/42' }] } } },
      E,
      true,
    ],
    [
      'anchored at the end',
      { detail: { build: { web_url: [{ wildcard: 'https://buildkite.com/*/builds/4' }] } } },
      E,
      false,
    ],
    [
      'escaped asterisks are literal',
      { detail: { build: { message: [{ wildcard: 'Bump \\*all\\* *' }] } } },
      E,
      true,
    ],
    [
      'escaped asterisk only matches an asterisk',
      { detail: { build: { message: [{ wildcard: 'Bump \\*' }] } } },
      buildkiteEvent({ build: { message: 'Bump all' } }),
      false,
    ],
    [
      'escaped backslash',
      { detail: { job: { working_dir: [{ wildcard: 'C:\\\\buildkite\\\\*' }] } } },
      E,
      true,
    ],
    ['only matches strings', { detail: { build: { number: [{ wildcard: '*' }] } } }, E, false],
  ],

  // "Comparison operators" > Or ($or), and event-ruler README "$or" examples.
  $or: [
    [
      'doc: state is passed, or exit status is 1',
      { $or: [{ detail: { build: { state: ['passed'] } } }, { detail: { job: { exit_status: [1] } } }] },
      E,
      true,
    ],
    [
      'no branch matches',
      { $or: [{ detail: { build: { state: ['passed'] } } }, { detail: { job: { exit_status: [0] } } }] },
      E,
      false,
    ],
    [
      '$or inside detail',
      { detail: { $or: [{ build: { branch: ['main'] } }, { pipeline: { slug: ['other'] } }] } },
      E,
      true,
    ],
    [
      'a branch is an AND of its fields',
      { $or: [{ source: ['aws.ec2'] }, { source: ['buildkite'], 'detail-type': ['job.finished'] }] },
      E,
      true,
    ],
    [
      'a branch with one failing field',
      { $or: [{ source: ['aws.ec2'] }, { source: ['buildkite'], 'detail-type': ['build.finished'] }] },
      E,
      false,
    ],
    [
      '$or is ANDed with the other fields',
      { source: ['aws.ec2'], $or: [{ detail: { build: { state: ['failed'] } } }, { region: ['eu-west-1'] }] },
      E,
      false,
    ],
    [
      'nested $or (README "Nested Or and And")',
      {
        source: ['buildkite'],
        $or: [
          { detail: { build: { state: ['passed'] } } },
          {
            detail: {
              build: { state: ['failed'] },
              $or: [{ job: { exit_status: [0] } }, { job: { soft_failed: [false] } }],
            },
          },
        ],
      },
      E,
      true,
    ],
    [
      'nested $or, no inner branch matches',
      {
        $or: [
          { detail: { build: { state: ['passed'] } } },
          {
            detail: {
              build: { state: ['failed'] },
              $or: [{ job: { exit_status: [0] } }, { job: { soft_failed: [true] } }],
            },
          },
        ],
      },
      E,
      false,
    ],
    [
      'parallel $or at two levels (README "Parallel Or")',
      {
        $or: [{ region: ['us-east-1'] }, { account: ['123456789012'] }],
        detail: { $or: [{ event: ['build.finished'] }, { job: { step_key: ['unit'] } }] },
      },
      E,
      true,
    ],
    [
      'parallel $or, one level fails',
      {
        $or: [{ region: ['us-east-1'] }, { account: ['123456789012'] }],
        detail: { $or: [{ event: ['build.finished'] }, { job: { step_key: ['lint'] } }] },
      },
      E,
      false,
    ],
    // LocalStack complex_or: numeric conditions as alternatives.
    [
      'numeric alternatives',
      {
        detail: {
          $or: [
            { build: { number: [{ numeric: ['>', 100] }] } },
            { job: { duration_s: [{ numeric: ['<', 600] }] } },
          ],
        },
      },
      E,
      true,
    ],
    [
      'an exists: false branch',
      {
        $or: [
          { detail: { build: { state: ['passed'] } } },
          { detail: { build: { rebuilt_from: [{ exists: false }] } } },
        ],
      },
      E,
      true,
    ],
  ],

  // Content filtering > "Complex example with multiple matching", adapted.
  'complex example': [
    [
      'every condition holds',
      {
        time: [{ prefix: '2024-05-02' }],
        detail: {
          build: { state: [{ 'anything-but': 'running' }], number: [{ numeric: ['>', 0, '<=', 50] }] },
          job: { duration_s: [{ numeric: ['<', 600] }], exit_status: [{ 'anything-but': [100, 200, 300] }] },
          delivery: { sourceIp: [{ cidr: '10.0.0.0/8' }] },
        },
      },
      E,
      true,
    ],
    [
      'one condition fails',
      {
        time: [{ prefix: '2024-05-02' }],
        detail: {
          build: { state: [{ 'anything-but': 'failed' }], number: [{ numeric: ['>', 0, '<=', 50] }] },
          delivery: { sourceIp: [{ cidr: '10.0.0.0/8' }] },
        },
      },
      E,
      false,
    ],
  ],

  'edge cases': [
    ['a field named like an Object method is absent', { constructor: [{ exists: false }] }, E, true],
    ['toString is not a field of the event', { detail: { toString: [{ exists: true }] } }, E, false],
    ['dotted names are not paths', { 'detail.build.state': ['failed'] }, E, false],
    ['an IP address as a plain string', { detail: { delivery: { sourceIp: ['10.0.0.33'] } } }, E, true],
    [
      'several operators for one field are OR',
      { detail: { build: { state: [{ prefix: 'pass' }, { suffix: 'led' }] } } },
      E,
      true,
    ],
    ['a nested pattern against a scalar', { detail: { event: { name: ['job.finished'] } } }, E, false],
    ['an exact value against an object', { detail: { build: ['failed'] } }, E, false],
  ],
};

describe('matchesPattern', () => {
  describe.each(Object.entries(groups))('%s', (_group, cases) => {
    it.each(cases)('%s', (_name, pattern, event, expected) => {
      validatePattern(pattern); // every case uses a pattern EventBridge accepts
      expect(matchesPattern(pattern, event)).toBe(expected);
    });
  });

  it('has both matching and non-matching cases for every group', () => {
    for (const cases of Object.values(groups)) {
      expect(cases.some(([, , , expected]) => expected)).toBe(true);
      expect(cases.some(([, , , expected]) => !expected)).toBe(true);
    }
  });

  it('throws on an invalid pattern instead of guessing', () => {
    expect(() => matchesPattern({ source: 'buildkite' }, E)).toThrow(
      '"source" must be an object or an array',
    );
  });
});

/** [pattern, path named in the message, reason] */
type InvalidCase = [pattern: unknown, path: string, reason: string];

const invalid: Record<string, InvalidCase[]> = {
  // event-ruler JsonRuleCompiler; messages EventBridge returns are recorded in LocalStack snapshots.
  structure: [
    [null, '(root)', 'Filter is not an object'],
    [['buildkite'], '(root)', 'Filter is not an object'],
    ['{"source": ["buildkite"]}', '(root)', 'Filter is not an object'],
    [{}, '(root)', 'Empty objects are not allowed'],
    [{ detail: {} }, 'detail', 'Empty objects are not allowed'],
    [{ source: 'buildkite' }, 'source', '"source" must be an object or an array'],
    [
      { detail: { build: { state: 'failed' } } },
      'detail.build.state',
      '"state" must be an object or an array',
    ],
    [{ detail: { build: { number: 42 } } }, 'detail.build.number', '"number" must be an object or an array'],
    [{ source: [] }, 'source', 'Empty arrays are not allowed'],
    [{ source: [['buildkite']] }, 'source[0]', 'Match value must be String, number, true, false, or null'],
    [{ source: [{}] }, 'source[0]', 'Match expression name not found'],
    [{ source: [{ prefix: 'a', suffix: 'b' }] }, 'source[0]', 'Only one key allowed in match expression'],
    [{ source: [{ contains: 'kite' }] }, 'source[0]', 'Unrecognized match type contains'],
    [{ detail: { state: [{ EXISTS: true }] } }, 'detail.state[0]', 'Unrecognized match type EXISTS'],
  ],
  'prefix, suffix, equals-ignore-case': [
    [{ time: [{ prefix: 123 }] }, 'time[0]', 'prefix match pattern must be a string'],
    [{ time: [{ prefix: ['2024'] }] }, 'time[0]', 'prefix match pattern must be a string'],
    [
      { time: [{ prefix: { 'equals-ignore-case': 5 } }] },
      'time[0]',
      'equals-ignore-case match pattern must be a string',
    ],
    [{ time: [{ prefix: { wildcard: '2024*' } }] }, 'time[0]', 'Unsupported prefix pattern: wildcard'],
    [{ time: [{ prefix: {} }] }, 'time[0]', 'Prefix expression name not found'],
    [{ file: [{ suffix: 123 }] }, 'file[0]', 'suffix match pattern must be a string'],
    [{ file: [{ suffix: ['.png'] }] }, 'file[0]', 'suffix match pattern must be a string'],
    [{ file: [{ suffix: { prefix: 'x' } }] }, 'file[0]', 'Unsupported suffix pattern: prefix'],
    [{ dt: [{ 'equals-ignore-case': ['x'] }] }, 'dt[0]', 'equals-ignore-case match pattern must be a string'],
    [
      { dt: [{ 'equals-ignore-case': { prefix: 'x' } }] },
      'dt[0]',
      'equals-ignore-case match pattern must be a string',
    ],
  ],
  wildcard: [
    [{ a: [{ wildcard: 123 }] }, 'a[0]', 'wildcard match pattern must be a string'],
    [{ a: [{ wildcard: ['*'] }] }, 'a[0]', 'wildcard match pattern must be a string'],
    [{ a: [{ wildcard: 'a**b' }] }, 'a[0]', 'Consecutive wildcard characters at pos 2'],
    // The position EventBridge reported for this pattern (LocalStack content_wildcard_repeating_star_EXC).
    [
      { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:**:event-bus/*' }] },
      'EventBusArn[0]',
      'Consecutive wildcard characters at pos 26',
    ],
    [{ a: [{ wildcard: 'é**' }] }, 'a[0]', 'Consecutive wildcard characters at pos 3'],
    [{ a: [{ wildcard: 'a\\b' }] }, 'a[0]', 'Invalid escape character at pos 2'],
    [{ a: [{ wildcard: 'abc\\' }] }, 'a[0]', 'Invalid escape character at pos 4'],
  ],
  'anything-but': [
    [
      { s: [{ 'anything-but': { 'anything-but': 'x' } }] },
      's[0]',
      'Unsupported anything-but pattern: anything-but',
    ],
    [{ s: [{ 'anything-but': { numeric: ['>', 1] } }] }, 's[0]', 'Unsupported anything-but pattern: numeric'],
    [{ s: [{ 'anything-but': {} }] }, 's[0]', 'Anything-But expression name not found'],
    [
      { s: [{ 'anything-but': { prefix: 'a', suffix: 'b' } }] },
      's[0]',
      'Only one key allowed in match expression',
    ],
    [
      { s: [{ 'anything-but': true }] },
      's[0]',
      'Value of anything-but must be an array or single string/number value.',
    ],
    [
      { s: [{ 'anything-but': null }] },
      's[0]',
      'Value of anything-but must be an array or single string/number value.',
    ],
    [
      { s: [{ 'anything-but': [] }] },
      's[0]',
      'Inside anything but list, either all values are number or string, mixed type is not supported',
    ],
    [
      { s: [{ 'anything-but': ['a', 1] }] },
      's[0]',
      'Inside anything but list, either all values are number or string, mixed type is not supported',
    ],
    [
      { s: [{ 'anything-but': ['a', null] }] },
      's[0]',
      'Inside anything but list, start|null|boolean is not supported.',
    ],
    [{ s: [{ 'anything-but': 6e9 }] }, 's[0]', 'Value must be between -5.0E9 and 5.0E9, inclusive'],
    [{ s: [{ 'anything-but': { prefix: '' } }] }, 's[0]', 'Null prefix/suffix not allowed'],
    [{ s: [{ 'anything-but': { prefix: 123 } }] }, 's[0]', 'prefix/suffix match pattern must be a string'],
    [
      { s: [{ 'anything-but': { suffix: [123, '.txt'] } }] },
      's[0]',
      'prefix/suffix match pattern must be a string',
    ],
    [
      { s: [{ 'anything-but': { prefix: { 'equals-ignore-case': 'file' } } }] },
      's[0]',
      'Value of anything-but must be an array or single string/number value.',
    ],
    [
      { s: [{ 'anything-but': { 'equals-ignore-case': [123, 456] } }] },
      's[0]',
      'Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.',
    ],
    [{ s: [{ 'anything-but': { wildcard: 123 } }] }, 's[0]', 'wildcard match pattern must be a string'],
    [{ s: [{ 'anything-but': { wildcard: '*/**' } }] }, 's[0]', 'Consecutive wildcard characters at pos 3'],
    [{ s: [{ 'anything-but': { prefix: [] } }] }, 's[0]', 'Empty arrays are not allowed'],
  ],
  numeric: [
    [{ n: [{ numeric: 5 }] }, 'n[0]', 'Value of numeric must be an array.'],
    [{ n: [{ numeric: [] }] }, 'n[0]', 'Invalid member in numeric match'],
    [{ n: [{ numeric: [5, '>'] }] }, 'n[0]', 'Invalid member in numeric match: 5'],
    [{ n: [{ numeric: ['==', 5] }] }, 'n[0]', 'Unrecognized numeric range operator: =='],
    [{ n: [{ numeric: ['>', '5'] }] }, 'n[0]', 'Value of > must be numeric'],
    [{ n: [{ numeric: ['=', null] }] }, 'n[0]', 'Value of equals must be numeric'],
    [
      { detail: { 'c-count': [{ numeric: ['>', 0, '>', 0] }] } },
      'detail.c-count[0]',
      'Bad numeric range operator: >',
    ],
    [
      { detail: { 'c-count': [{ numeric: ['>', 0, '<'] }] } },
      'detail.c-count[0]',
      'Value of < must be numeric',
    ],
    [{ n: [{ numeric: ['>', 0, 5] }] }, 'n[0]', 'Bad value in numeric range: 5'],
    [{ n: [{ numeric: ['<', 5, '>', 0] }] }, 'n[0]', 'Too many elements in numeric expression'],
    [{ n: [{ numeric: ['=', 5, '<', 6] }] }, 'n[0]', 'Too many elements in numeric expression'],
    [{ n: [{ numeric: ['>', 0, '<', 5, '<', 6] }] }, 'n[0]', 'Too many terms in numeric range expression'],
    [{ n: [{ numeric: ['>', 5, '<', 5] }] }, 'n[0]', 'Bottom must be less than top'],
    [{ n: [{ numeric: ['>=', 10, '<=', 5] }] }, 'n[0]', 'Bottom must be less than top'],
    [{ n: [{ numeric: ['<', 6e9] }] }, 'n[0]', 'Value must be between -5.0E9 and 5.0E9, inclusive'],
  ],
  cidr: [
    [{ ip: [{ cidr: 123 }] }, 'ip[0]', 'cidr match pattern must be a string'],
    [{ ip: [{ cidr: '10.0.0.0' }] }, 'ip[0]', "Malformed CIDR, one '/' required"],
    [{ ip: [{ cidr: '10.0.0.0/8/8' }] }, 'ip[0]', "Malformed CIDR, one '/' required"],
    [{ ip: [{ cidr: 'bad-/64filter' }] }, 'ip[0]', 'Malformed CIDR, mask bits must be an integer'],
    [{ ip: [{ cidr: '10.0.0.0/-1' }] }, 'ip[0]', 'Malformed CIDR, mask bits must not be negative'],
    [{ ip: [{ cidr: 'xx.11.xx/24' }] }, 'ip[0]', 'Nonstandard IP address: xx.11.xx'],
    [{ ip: [{ cidr: 'xxxx:db8:1234:1a00::/64' }] }, 'ip[0]', 'Nonstandard IP address: xxxx:db8:1234:1a00::'],
    [{ ip: [{ cidr: '10.0.0.256/24' }] }, 'ip[0]', 'Invalid IP address: 10.0.0.256'],
    [{ ip: [{ cidr: '2001:db8:::1/64' }] }, 'ip[0]', 'Invalid IP address: 2001:db8:::1'],
    [{ ip: [{ cidr: '10.0.0.1/32' }] }, 'ip[0]', 'IPv4 mask bits must be < 32'],
    [{ ip: [{ cidr: '2001:db8::1/128' }] }, 'ip[0]', 'IPv6 mask bits must be < 128'],
  ],
  exists: [
    [{ a: [{ exists: 'true' }] }, 'a[0]', 'exists match pattern must be either true or false.'],
    [{ a: [{ exists: null }] }, 'a[0]', 'exists match pattern must be either true or false.'],
  ],
  $or: [
    [{ $or: { source: ['a'] } }, '$or', 'It must be an Array followed with $or.'],
    [{ $or: [{ source: ['a'] }] }, '$or', 'There must have at least 2 Objects in $or relationship.'],
    [{ $or: [] }, '$or', 'There must have at least 2 Objects in $or relationship.'],
    [
      { $or: [{ source: ['a'] }, 'b'] },
      '$or[1]',
      'Only JSON object is allowed in array of $or relationship.',
    ],
    [{ $or: [{ source: ['a'] }, {}] }, '$or[1]', 'Empty objects are not allowed'],
    [
      { detail: { $or: [{ a: [1] }, { b: [2] }, { c: 'x' }] } },
      'detail.$or[2].c',
      '"c" must be an object or an array',
    ],
    [
      { $or: [{ prefix: ['a'] }, { b: [1] }] },
      '$or[0].prefix',
      'prefix is Ruler reserved fieldName which cannot be used inside $or.',
    ],
    [
      { $or: [{ detail: { numeric: [1] } }, { b: [1] }] },
      '$or[0].detail.numeric',
      'numeric is Ruler reserved fieldName which cannot be used inside $or.',
    ],
  ],
};

describe('validatePattern rejects', () => {
  describe.each(Object.entries(invalid))('%s', (_group, cases) => {
    it.each(cases)('%j', (pattern, path, reason) => {
      expect(() => validatePattern(pattern)).toThrow(`Invalid event pattern at ${path}: ${reason}`);
    });
  });
});

const valid: Array<[name: string, pattern: unknown]> = [
  [
    'doc EC2 example',
    {
      source: ['aws.ec2'],
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: ['terminated'] },
    },
  ],
  [
    'doc complex example',
    {
      time: [{ prefix: '2017-10-02' }],
      detail: {
        state: [{ 'anything-but': 'initializing' }],
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ 'anything-but': [100, 200, 300] }],
        'source-ip': [{ cidr: '10.0.0.0/8' }],
      },
    },
  ],
  ['every scalar type', { a: ['x', '', 0, -1.5, true, false, null] }],
  ['large exact numbers (account ids) are allowed', { a: [123456789012] }],
  ['numeric at the limits', { a: [{ numeric: ['>=', -5e9, '<=', 5e9] }] }],
  ['numeric = with a float', { a: [{ numeric: ['=', 3.018e2] }] }],
  ['empty prefix', { a: [{ prefix: '' }] }],
  [
    'prefix and suffix ignoring case',
    { a: [{ prefix: { 'equals-ignore-case': 'x' } }, { suffix: { 'equals-ignore-case': 'y' } }] },
  ],
  [
    'anything-but forms',
    {
      a: [
        { 'anything-but': 'x' },
        { 'anything-but': 1 },
        { 'anything-but': ['x', 'y'] },
        { 'anything-but': [1, 2] },
        { 'anything-but': { prefix: ['a', 'b'] } },
        { 'anything-but': { suffix: '.png' } },
        { 'anything-but': { 'equals-ignore-case': ['A', 'b'] } },
        { 'anything-but': { wildcard: ['*/lib/*', '*.tmp'] } },
      ],
    },
  ],
  ['wildcard escapes', { a: [{ wildcard: 'Bump \\*all\\* *' }, { wildcard: 'C:\\\\*' }, { wildcard: '' }] }],
  [
    'IPv4 and IPv6 blocks',
    { a: [{ cidr: '0.0.0.0/0' }, { cidr: '10.0.0.1/31' }, { cidr: '2001:db8:1234:1a00::/64' }] },
  ],
  ['exists both ways', { a: [{ exists: true }], b: [{ exists: false }] }],
  [
    'nested and parallel $or',
    {
      $or: [{ a: ['1'] }, { b: ['2'], $or: [{ c: ['3'] }, { d: ['4'] }] }],
      detail: { $or: [{ e: ['5'] }, { f: { g: ['6'] } }] },
    },
  ],
  ['operator names are ordinary field names outside $or', { detail: { prefix: ['x'], numeric: [1] } }],
];

describe('validatePattern accepts', () => {
  it.each(valid)('%s', (_name, pattern) => {
    expect(() => validatePattern(pattern)).not.toThrow();
  });
});
