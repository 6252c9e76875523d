import { isIpv6Cidr, normaliseCidr } from '../../../lib/config/cidr';
import { ConfigError, parseConfig } from '../../../lib/config';

describe('normaliseCidr', () => {
  it.each([
    ['198.51.100.12', '198.51.100.12/32'],
    ['  10.0.0.0/8 ', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['192.0.2.7/24', '192.0.2.7/24'],
    ['2001:DB8::1', '2001:db8::1/128'],
    ['2001:0db8:0000:0000::/32', '2001:db8::/32'],
    ['::/0', '::/0'],
  ])('writes %j as %j', (text, cidr) => {
    expect(normaliseCidr(text)).toBe(cidr);
  });

  it.each([
    ['', 'empty'],
    ['not-an-ip', 'a word'],
    ['203.0.113.256', 'an octet over 255'],
    ['10.0.0.0/33', 'an IPv4 prefix over 32'],
    ['2001:db8::/129', 'an IPv6 prefix over 128'],
    ['1.2.3.4/8/8', 'two prefixes'],
    ['10.0.0.0/ 8', 'a space inside'],
    ['1.2.3.4/', 'a missing prefix'],
    ['/8', 'a missing address'],
    ['10.1', 'inet_aton shorthand (would be 10.0.0.1)'],
    ['10.0.0', 'three parts (would be 10.0.0.0)'],
    ['010.0.0.1', 'an octal octet (would be 8.0.0.1)'],
    ['0x0a000001', 'hex (would be 10.0.0.1)'],
    ['167772161', 'a bare number (would be 10.0.0.1)'],
    ['fe80::1%eth0', 'an IPv6 zone'],
  ])('refuses %j (%s)', (text) => {
    expect(normaliseCidr(text)).toBeUndefined();
  });

  it('is idempotent on what it writes', () => {
    for (const text of ['198.51.100.12', '2001:0DB8::/32', '10.0.0.0/8']) {
      const once = normaliseCidr(text) as string;
      expect(normaliseCidr(once)).toBe(once);
    }
  });
});

describe('isIpv6Cidr', () => {
  it.each([
    ['2001:db8::/32', true],
    ['::/0', true],
    ['10.0.0.0/8', false],
    ['0.0.0.0/0', false],
  ])('%s → %s', (cidr, ipv6) => {
    expect(isIpv6Cidr(cidr)).toBe(ipv6);
  });
});

describe('an entry normaliseCidr refuses, as the config reports it', () => {
  it.each(['010.0.0.1', '10.1', 'fe80::1%eth0'])('names %j and how to write an address', (entry) => {
    let error: unknown;
    try {
      parseConfig({ webhookIps: ['192.0.2.0/24', entry] });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([expect.stringContaining(`webhookIps[1]`)]);
    expect((error as ConfigError).problems[0]).toContain(
      `"${entry}" is not an IPv4/IPv6 address or CIDR (write IPv4 as four decimal numbers, e.g. 192.0.2.10 or 192.0.2.0/24; IPv6 without a zone, e.g. 2001:db8::/32)`,
    );
  });
});
