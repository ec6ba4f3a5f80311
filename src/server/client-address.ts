import type { IncomingMessage } from 'node:http'
import { BlockList, isIP, isIPv4 } from 'node:net'

/**
 * The key per-address limits count under, for a request: the client's IPv4 address, or the /64 network of its
 * IPv6 address (one host usually owns a whole /64, so counting single IPv6 addresses would cap nothing).
 *
 * The client is the TCP peer, unless the peer is one of `trustedProxies` (addresses or CIDR ranges): then it
 * is the rightmost `X-Forwarded-For` entry that is not a trusted proxy itself, as a proxy chain appends them.
 * Entries to the left of that are whatever the client sent, and are never believed.
 */
export function createClientAddress(trustedProxies: readonly string[]): (request: IncomingMessage) => string {
  const trusted = new BlockList()
  for (const entry of trustedProxies) {
    const [address, prefix] = entry.split('/')
    const family = isIPv4(address) ? 'ipv4' : 'ipv6'
    if (prefix === undefined) trusted.addAddress(address, family)
    else trusted.addSubnet(address, Number(prefix), family)
  }
  const isTrusted = (address: string) => trustedProxies.length > 0 && trusted.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')

  return (request) => {
    let client = unmapped(request.socket.remoteAddress ?? '')
    if (isIP(client) !== 0 && isTrusted(client)) {
      const forwarded = headerText(request.headers['x-forwarded-for'])
        .split(',')
        .map((s) => unmapped(withoutPort(s.trim())))
      for (let i = forwarded.length - 1; i >= 0; i--) {
        if (isIP(forwarded[i]) === 0) break
        client = forwarded[i]
        if (!isTrusted(client)) break
      }
    }
    return addressKey(client)
  }
}

const headerText = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(',') : (value ?? ''))

/** Some proxies write `1.2.3.4:5678` or `[2001:db8::1]:5678`. */
function withoutPort(entry: string): string {
  const match = /^\[([^\]]+)\](?::\d+)?$/.exec(entry) ?? /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(entry)
  return match ? match[1] : entry
}

/** `::ffff:10.1.2.3` (an IPv4 client of a dual-stack socket) is `10.1.2.3`. */
function unmapped(address: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return match ? match[1] : address
}

/** IPv4 as it is; IPv6 as its /64 network (`2001:db8:0:1::/64`); anything else (no address) as given. */
export function addressKey(address: string): string {
  if (isIP(address) !== 6) return address
  const groups = expandIPv6(address)
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`
}

function expandIPv6(address: string): number[] {
  const [head, tail] = address.split('%')[0].split('::')
  const parse = (part: string | undefined): number[] => {
    if (!part) return []
    return part.split(':').flatMap((group) => {
      if (!group.includes('.')) return [parseInt(group, 16)]
      const [a, b, c, d] = group.split('.').map(Number)
      return [(a << 8) | b, (c << 8) | d]
    })
  }
  const left = parse(head)
  const right = parse(tail)
  if (tail === undefined) return left
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
}
