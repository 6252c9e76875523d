import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { queueOfAgent, queueOfEvent, queueOfJob } from '../../../lambda/autoscaler/queue';

const fixture = (name: string) =>
  JSON.parse(
    readFileSync(path.join(__dirname, '../../../fixtures/buildkite', `${name}.json`), 'utf8'),
  ) as Record<string, unknown>;

describe('queue extraction', () => {
  it.each([
    [['queue=linux-arm64'], 'linux-arm64'],
    [['os=linux', 'queue=build'], 'build'],
    [['os=linux'], 'default'],
    [[], 'default'],
    [undefined, 'default'],
    [['queue='], 'default'],
  ])('job agent_query_rules %j → %s', (rules, queue) => {
    expect(queueOfJob({ agent_query_rules: rules })).toBe(queue);
  });

  it.each([
    [['queue=linux-arm64', 'os=linux'], 'linux-arm64'],
    [['os=linux'], 'default'],
    [{ queue: 'mac' }, 'mac'],
    [undefined, 'default'],
  ])('agent meta_data %j → %s', (meta, queue) => {
    expect(queueOfAgent({ meta_data: meta })).toBe(queue);
  });

  it('reads the queue of every job and agent fixture, and of no other family', () => {
    for (const name of ['job.scheduled', 'job.started', 'job.finished', 'job.activated']) {
      expect(queueOfEvent(name, fixture(name))).toEqual(expect.any(String));
    }
    expect(queueOfEvent('job.scheduled', fixture('job.scheduled'))).toBe('linux-arm64');
    expect(queueOfEvent('agent.connected', fixture('agent.connected'))).toBe('linux-arm64');
    expect(queueOfEvent('build.finished', fixture('build.finished'))).toBeUndefined();
    expect(queueOfJob(null)).toBeUndefined();
    expect(queueOfAgent('x')).toBeUndefined();
  });
});
