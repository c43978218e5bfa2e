/**
 * URLs as the original (Go) coordinator holds them: the fields of Go's `net/url.URL`.
 *
 * A plain WHATWG `URL` cannot stand in: it cannot hold an `http` URL with an empty host
 * (`http:///p`, which localhost substitution must fill in), and it normalises what Go
 * keeps as sent.
 */

/** How a peer writes URL fields on the wire: Go `net/url.URL` objects or plain strings. */
export type UrlForm = 'go' | 'string'

/** A URL with the fields of Go's `net/url.URL` (user info is never kept: see `parseUrlString`). */
export interface MsgUrl {
  /** lower-case scheme: `unix`, `http` or `https` once validated */
  scheme: string
  opaque: string
  /** `host` or `host:port`; IPv6 literals bracketed; empty for unix URLs */
  host: string
  /** decoded path; for unix URLs the socket path */
  path: string
  rawPath: string
  omitHost: boolean
  forceQuery: boolean
  /** query, already escaped, without the `?` */
  rawQuery: string
  fragment: string
  rawFragment: string
}
