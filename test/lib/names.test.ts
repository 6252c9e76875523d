import * as fc from 'fast-check';
import { TRIGGER_NAME } from '../../lambda/shared/triggers';
import { pascalCase } from '../../lib/names';

// The three spellings pascalCase replaced, as they were (ingress, trigger relay, chat alerts):
// construct ids and output keys must not change for any name the config accepts.
const formerIngress = (name: string) =>
  name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');
const formerTriggerRelay = (name: string) =>
  name
    .split(/[-_]/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
const formerChatAlerts = (name: string) =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/** lib/config/chat-alerts.ts: a destination's name. */
const DESTINATION_NAME = /^[a-z][a-z0-9-]{0,39}$/;

describe('pascalCase', () => {
  it.each([
    ['github-deploy', 'GithubDeploy'],
    ['pagerduty', 'Pagerduty'],
    ['a', 'A'],
    ['9lives', '9lives'],
    ['a-b-c', 'ABC'],
    ['a--b', 'AB'],
    ['trailing-', 'Trailing'],
    ['team-2-alerts', 'Team2Alerts'],
  ])('%s → %s', (name, expected) => {
    expect(pascalCase(name)).toBe(expected);
  });

  it('gives what the ingress and trigger-relay spellings gave, for every valid trigger name', () => {
    fc.assert(
      fc.property(fc.stringMatching(TRIGGER_NAME.pattern), (name) => {
        expect(pascalCase(name)).toBe(formerIngress(name));
        expect(pascalCase(name)).toBe(formerTriggerRelay(name));
      }),
      { numRuns: 2_000 },
    );
  });

  it('gives what the chat-alerts spelling gave, for every valid destination name', () => {
    fc.assert(
      fc.property(fc.stringMatching(DESTINATION_NAME), (name) => {
        expect(pascalCase(name)).toBe(formerChatAlerts(name));
      }),
      { numRuns: 2_000 },
    );
  });
});
