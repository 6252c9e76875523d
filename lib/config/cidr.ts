import * as ipaddr from 'ipaddr.js';

/**
 * Normalises an IPv4/IPv6 address or CIDR to CIDR form (`198.51.100.12` → `198.51.100.12/32`,
 * IPv6 compacted and lower-cased). Returns undefined when the text is neither.
 */
export function normaliseCidr(text: string): string | undefined {
  const value = text.trim();
  try {
    if (value.includes('/')) {
      const [address, prefix] = ipaddr.parseCIDR(value);
      return `${address.toString()}/${prefix}`;
    }
    if (!ipaddr.isValid(value)) return undefined;
    const address = ipaddr.parse(value);
    return `${address.toString()}/${address.kind() === 'ipv4' ? 32 : 128}`;
  } catch {
    return undefined;
  }
}

export function isIpv6Cidr(cidr: string): boolean {
  return cidr.includes(':');
}
