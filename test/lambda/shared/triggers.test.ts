import { TRIGGER_NAME, toTriggerDefinition } from '../../../lambda/shared/triggers';

describe('TRIGGER_NAME', () => {
  it.each(['a', '9', 'github-deploy', 'a--b', 'x'.repeat(63)])('accepts %s', (name) => {
    expect(TRIGGER_NAME.pattern.test(name)).toBe(true);
  });

  it.each(['', '-a', 'A', 'a_b', 'a/b', 'a.b', 'x'.repeat(64)])('refuses %j', (name) => {
    expect(TRIGGER_NAME.pattern.test(name)).toBe(false);
  });
});

describe('toTriggerDefinition', () => {
  it('keeps name, kind, header and encoding, then the secret ARN (the deployed TRIGGERS entry)', () => {
    const definition = toTriggerDefinition(
      { name: 'ci', kind: 'hmac-sha256', header: 'X-Sig', encoding: 'base64' },
      'arn:secret',
    );
    expect(definition).toEqual({
      name: 'ci',
      kind: 'hmac-sha256',
      header: 'X-Sig',
      encoding: 'base64',
      secretArn: 'arn:secret',
    });
    expect(Object.keys(definition)).toEqual(['name', 'kind', 'header', 'encoding', 'secretArn']);
  });

  it('leaves out what is not set, the secret ARN included (local mode)', () => {
    expect(toTriggerDefinition({ name: 'gh', kind: 'github', header: undefined })).toStrictEqual({
      name: 'gh',
      kind: 'github',
    });
  });
});
