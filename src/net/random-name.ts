/**
 * Random hex for file names nobody may guess (one-shot stream sockets, temporary binds).
 * Web Crypto's global is used rather than node:crypto: node loads it on first use, so a
 * coordinator that serves no stream never pays for loading crypto at start-up.
 */

/** `bytes` random bytes as lowercase hex. */
export function randomHex (bytes: number): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(bytes))).toString('hex')
}
