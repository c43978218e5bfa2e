#!/usr/bin/env node
/**
 * The `coordinator-cli` command: sends one task request to a coordinator, waits on its own
 * HTTP listener for the response, and prints the result (JSON) or the response's stream on
 * stdout. Exit status: 0 success, 1 error response or failure, 2 usage error.
 */
import { randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { formatUrl, httpUrl, joinHostPort, splitHostPort, type MsgUrl } from '../core/go-url.js'
import { decodeResponse, encodeRequest, type Response } from '../core/message.js'
import { isLoopbackHostname, substituteLocalhost } from '../core/rewrite.js'
import { HookClient } from '../http/hook-client.js'
import { exchange } from '../net/unix-client.js'
import { openStream } from '../provider/stream-source.js'
import { parseCliArgs, USAGE, UsageError, type CliOptions } from './cli-args.js'
import { ResponseListener } from './response-listener.js'
import { buildArgs } from './task-args.js'

const EXIT_OK = 0
const EXIT_FAILURE = 1
const EXIT_USAGE = 2

/** Largest args object read from stdin with -j, and largest response accepted. */
const MAX_JSON_BYTES = 64 * 1024 * 1024
/** Attempts to reach an http(s) coordinator; only failures to connect are retried. */
const SEND_ATTEMPTS = 2

/** A failure to report on stderr (exit 1). */
class CliFailure extends Error {}

async function main (argv: string[]): Promise<number> {
  let opts: CliOptions
  let args: Buffer
  try {
    const parsed = parseCliArgs(argv)
    if ('help' in parsed) {
      process.stdout.write(USAGE)
      return EXIT_OK
    }
    opts = parsed
    args = buildArgs(opts.requestArgs, opts.jsonArgs ? await readStdin(MAX_JSON_BYTES) : undefined)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`coordinator-cli: ${err.message}\nTry 'coordinator-cli --help'.\n`)
    return EXIT_USAGE
  }
  try {
    await run(opts, args)
    return EXIT_OK
  } catch (err) {
    process.stderr.write(`coordinator-cli: ${err instanceof Error ? err.message : String(err)}\n`)
    return EXIT_FAILURE
  } finally {
    // stdin may still be open (an unread -s stream): it must not keep the process alive
    process.stdin.destroy()
  }
}

async function run (opts: CliOptions, args: Buffer): Promise<void> {
  const id = randomUUID()
  const plan = listenPlan(opts)
  const listener = new ResponseListener({
    hosts: plan.hosts,
    port: plan.port,
    requestId: id,
    stream: opts.stream ? process.stdin : undefined,
    maxBodyBytes: MAX_JSON_BYTES,
    bodyTimeoutMs: opts.timeoutMs
  })
  const hooks = new HookClient({ maxSockets: 4 })
  try {
    let port: number
    try {
      port = await listener.listen()
    } catch (err) {
      throw new CliFailure(`cannot listen for the response on ${plan.hosts.join(', ') || '*'}:${plan.port}: ${(err as Error).message}`)
    }
    const hookHost = joinHostPort(plan.hookHost, String(port))
    const payload = encodeRequest({
      id,
      task: opts.task,
      taskURL: opts.taskUrl,
      responseHook: httpUrl(hookHost, '/response'),
      streamURL: opts.stream ? httpUrl(hookHost, '/stream') : null,
      args,
      urlForm: 'go'
    }, 'go')
    const ack = await send(opts.coordinatorUrl, payload, opts.timeoutMs, hooks)
    if (ack.error !== '') throw new CliFailure(`request refused: ${ack.error}`)
    const response = await withTimeout(listener.response, opts.timeoutMs)
    if (response.error !== '') throw new CliFailure(`response error: ${response.error}`)
    if (response.streamURL === null) {
      await writeStdout(Buffer.concat([response.result, Buffer.from('\n')]))
      return
    }
    await copyStream(streamSource(response.streamURL, opts.coordinatorUrl), opts.timeoutMs)
  } finally {
    hooks.close()
    await listener.close()
  }
}

/** Where to listen, and the host the response hook names. */
function listenPlan (opts: CliOptions): { hosts: string[], port: number, hookHost: string } {
  if (opts.httpAddr !== undefined) {
    const { host, port } = opts.httpAddr
    // A wildcard cannot be called back; loopback can (a remote coordinator substitutes our address).
    const wildcard = host === '' || host === '0.0.0.0' || host === '::'
    return { hosts: [host], port, hookHost: wildcard ? '127.0.0.1' : host }
  }
  const coordinator = opts.coordinatorUrl
  if (coordinator.scheme === 'unix') return { hosts: ['127.0.0.1'], port: 0, hookHost: '127.0.0.1' }
  const { hostname } = splitHostPort(coordinator.host)
  // `localhost` may be reached over either family; the coordinator calls back the one we came from
  if (hostname === 'localhost') return { hosts: ['127.0.0.1', '::1'], port: 0, hookHost: '127.0.0.1' }
  if (hostname === '::1') return { hosts: ['::1'], port: 0, hookHost: '::1' }
  if (isLoopbackHostname(hostname)) return { hosts: ['127.0.0.1'], port: 0, hookHost: '127.0.0.1' }
  // A remote coordinator replaces a loopback hook host with our address as it sees it.
  return { hosts: [''], port: 0, hookHost: '127.0.0.1' }
}

/** Sends the request to a unix or http(s) coordinator; resolves with its ack. */
async function send (coordinator: MsgUrl, payload: Buffer, timeoutMs: number, hooks: HookClient): Promise<Response> {
  const where = formatUrl(coordinator)
  let answer: Buffer
  try {
    if (coordinator.scheme === 'unix') {
      answer = await exchange(coordinator.path, payload, { timeoutMs })
    } else {
      answer = (await hooks.post(where, payload, { timeoutMs, retries: SEND_ATTEMPTS })).body
    }
  } catch (err) {
    throw new CliFailure(`cannot send the request to ${where}: ${(err as Error).message}`)
  }
  try {
    return decodeResponse(answer)
  } catch (err) {
    throw new CliFailure(`malformed ack from ${where}: ${(err as Error).message}`)
  }
}

/**
 * The stream URL to read. The coordinator names itself `localhost` in the stream URLs it
 * hands out; seen from another machine that is the coordinator's host.
 */
function streamSource (streamURL: MsgUrl, coordinator: MsgUrl): MsgUrl {
  if (coordinator.scheme === 'unix' || streamURL.scheme === 'unix') return streamURL
  const { hostname } = splitHostPort(coordinator.host)
  return isLoopbackHostname(hostname) ? streamURL : substituteLocalhost(streamURL, hostname)
}

async function copyStream (url: MsgUrl, timeoutMs: number): Promise<void> {
  let source: Readable
  try {
    source = await openStream(url, { timeoutMs, idleTimeoutMs: timeoutMs })
  } catch (err) {
    throw new CliFailure((err as Error).message)
  }
  try {
    // stdout stays open (end: false): it is the process's, not ours to close
    await pipeline(source, process.stdout, { end: false })
  } catch (err) {
    // the reader of stdout went away (`| head`): nothing is wrong with the stream
    if ((err as { code?: string }).code === 'EPIPE') return
    throw new CliFailure(`stream from ${formatUrl(url)} failed: ${(err as Error).message}`)
  }
}

function writeStdout (bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(bytes, err => {
      if (err === null || err === undefined || (err as { code?: string }).code === 'EPIPE') resolve()
      else reject(err)
    })
  })
}

function readStdin (maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    process.stdin.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        process.stdin.destroy()
        reject(new UsageError(`--json_args: stdin holds more than ${maxBytes} bytes`))
        return
      }
      chunks.push(chunk)
    })
    process.stdin.once('end', () => { resolve(Buffer.concat(chunks, size)) })
    process.stdin.once('error', err => { reject(new UsageError(`--json_args: cannot read stdin: ${err.message}`)) })
  })
}

function withTimeout<T> (p: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((resolve, reject) => {
    timer = setTimeout(() => { reject(new CliFailure(`no response within ${timeoutMs / 1000} s`)) }, timeoutMs)
  })
  return Promise.race([p, timeout]).finally(() => { clearTimeout(timer) })
}

// Guards against a stdout that closes early: the write error is handled where it happens.
process.stdout.on('error', () => {})

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`coordinator-cli: unexpected failure: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = EXIT_FAILURE
})
