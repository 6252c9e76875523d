import * as ipaddr from 'ipaddr.js';

/**
 * Normalises an IPv4/IPv6 address or CIDR to CIDR form (`198.51.100.12` → `198.51.100.12/32`,
 * IPv6 compacted and lower-cased). Returns undefined when the text is neither. IPv4 must be four
 * decimal parts: the shorthand, octal and hex forms inet_aton accepts (`10.1`, `010.0.0.1`,
 * `0x0a000001`) name an address other than the one a reader sees, and an IPv6 zone
 * (`fe80::1%eth0`) means nothing to a resource policy, so both are refused, not reinterpreted.
 */
export function normaliseCidr(text: string): string | undefined {
  const value = text.trim();
  const address = value.includes('/') ? value.slice(0, value.indexOf('/')) : value;
  if (address.includes(':') ? address.includes('%') : !ipaddr.IPv4.isValidFourPartDecimal(address))
    return undefined;
  try {
    if (value.includes('/')) {
      const [parsed, prefix] = ipaddr.parseCIDR(value);
      return `${parsed.toString()}/${prefix}`;
    }
    if (!ipaddr.isValid(value)) return undefined;
    const parsed = ipaddr.parse(value);
    return `${parsed.toString()}/${parsed.kind() === 'ipv4' ? 32 : 128}`;
  } catch {
    return undefined;
  }
}

/** Whether a CIDR (as normaliseCidr writes it) is IPv6. */
export function isIpv6Cidr(cidr: string): boolean {
  return cidr.includes(':');
}
