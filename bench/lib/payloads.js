/**
 * What the load generators send: the task arguments and the URL forms of the original.
 */

/** Small task arguments, as a client of a CPUInfo-like task sends them (with a 64-bit integer). */
export const ARGS = '{"detail":true,"fields":["model","mhz","cache"],"limit":18446744073709551615}'

/** A unix URL in the Go object form (net/url.URL) that the original's clients write. */
export function goUnixUrl (path) {
  return `{"Scheme":"unix","Opaque":"","User":null,"Host":"","Path":${JSON.stringify(path)},"RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""}`
}
