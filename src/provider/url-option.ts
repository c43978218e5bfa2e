/**
 * URL options of the provider kit and the command-line client: a string or a `MsgUrl`,
 * checked as a message URL (unix, http or https) and, where asked, limited to some schemes.
 */
import { CoordinatorError } from '../core/errors.js'
import { parseUrlString, validateUrl, type MsgUrl } from '../core/go-url.js'

/** Parses and checks a URL option; throws the go-url coded error (`ERR_URL_*`) naming `field`. */
export function urlOption (value: string | MsgUrl, field: string, schemes?: readonly string[]): MsgUrl {
  let url: MsgUrl
  try {
    url = validateUrl(typeof value === 'string' ? parseUrlString(value) : value, field)
  } catch (err) {
    const { code, message } = err as CoordinatorError
    throw new CoordinatorError(code, message.startsWith(`${field}:`) ? message : `${field}: ${message}`)
  }
  if (schemes !== undefined && !schemes.includes(url.scheme)) {
    throw new CoordinatorError('ERR_URL_SCHEME', `${field}: scheme ${url.scheme} is not allowed here (want ${schemes.join(' or ')})`)
  }
  return url
}
