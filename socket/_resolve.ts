// Host names to addresses, for connect() and listen(): numeric addresses
// pass through; a name is looked up with node:dns (loaded only then, so the
// module imports nothing it does not use; Deno needs --allow-net or
// --allow-sys for the lookup).
import { parseIPv4, parseIPv6 } from "./_address.ts";
import type { SocketEndpoint } from "./types.ts";

interface Dns {
  promises: {
    lookup(
      hostname: string,
      options: { verbatim: boolean },
    ): Promise<{ address: string; family: number }>;
  };
}

/** `address` with its hostname resolved to a numeric address. */
export async function resolveEndpoint(
  address: SocketEndpoint,
): Promise<SocketEndpoint> {
  if (!("hostname" in address)) return address;
  const { hostname, port } = address;
  if (parseIPv4(hostname) !== undefined || parseIPv6(hostname) !== undefined) {
    return address;
  }
  const dns = await import("node:dns") as unknown as Dns;
  const { address: numeric } = await dns.promises.lookup(hostname, {
    verbatim: true,
  });
  return { hostname: numeric, port };
}
