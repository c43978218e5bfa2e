/**
 * Replays the requests the Go original was sent (../shared/wire-samples/02*) through a real
 * coordinator, and checks that what the fake provider receives has the shape of what the
 * original handed its provider: same keys in the same order, same URL object keys.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCoordinator, post } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { sendFrame } from '../fixtures/wire.js'

// The samples' hooks point at a port nobody serves: a short request timeout and one delivery
// try keep each coordinator's drain at teardown short.
const SAMPLES = fileURLToPath(new URL('../../../shared/wire-samples/', import.meta.url))

function sample (name: string): string {
  return readFileSync(join(SAMPLES, name), 'utf8').trimEnd()
}

/** The keys of a JSON object in order, and of each nested URL object. */
function shape (json: string): unknown {
  const value = JSON.parse(json) as Record<string, unknown>
  return Object.entries(value).map(([key, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && key !== 'args' ? [key, Object.keys(v)] : key)
}

t.test('02a: an http request with an http hook reaches the provider as the original sent it', async t => {
  const c = await startCoordinator(t, { service_name: 'coord', request_timeout: 0.2, hook_retries: 1 })
  const provider = await startFakeProvider({ path: join(c.dir, 'Capture', '10-capture.sock') })
  t.teardown(() => provider.close())
  const answer = await post(c.url('/'), sample('02a-http-request-sent.json'))
  t.equal(answer.status, 200)
  const expected = sample('02a-provider-recv-http-req-httphook.json')
    .replace('/run/cerana/response/coord.sock', c.coordinator.addresses.responseSocket)
  t.equal(provider.received[0], expected, 'byte for byte, but for the socket dir')
})

t.test('02b: an http stream URL is replaced by a one-shot unix socket under socket_dir', async t => {
  const c = await startCoordinator(t, { service_name: 'coord', request_timeout: 0.2, hook_retries: 1 })
  const provider = await startFakeProvider({ path: join(c.dir, 'Capture', '10-capture.sock') })
  t.teardown(() => provider.close())
  const answer = await post(c.url('/'), sample('02b-http-request-sent.json'))
  t.equal(answer.status, 200)
  const received = provider.received[0] ?? '{}'
  t.same(shape(received), shape(sample('02b-provider-recv-http-req-httphook-httpstream.json')))
  const streamURL = JSON.parse(received).streamURL as Record<string, string>
  t.equal(streamURL.Scheme, 'unix')
  t.ok(streamURL.Path?.startsWith(join(c.dir, 'streams') + '/'), `under socket_dir/streams: ${streamURL.Path ?? ''}`)
})

t.test('02c: an internal request with a unix hook is passed on byte for byte', async t => {
  const c = await startCoordinator(t)
  const provider = await startFakeProvider({ path: join(c.dir, 'Late', '10-capture.sock') })
  t.teardown(() => provider.close())
  const sent = sample('02c-internal-request-sent.json')
  const ack = await sendFrame(c.coordinator.addresses.requestSocket, sent)
  t.equal(JSON.parse(ack).error, '')
  t.equal(provider.received[0], sample('02c-provider-recv-internal-req-unixhook-passthrough.json'))
})

t.test('02d: args keep their bytes (the original re-compacted and escaped them); the rest has its shape', async t => {
  const c = await startCoordinator(t, { service_name: 'coord', request_timeout: 0.2, hook_retries: 1 })
  const provider = await startFakeProvider({ path: join(c.dir, 'CaptureNone', '10-capture.sock') })
  t.teardown(() => provider.close())
  await post(c.url('/'), sample('02d-http-request-sent-with-whitespace.json'))
  const received = provider.received[0] ?? '{}'
  t.same(shape(received), shape(sample('02d-provider-recv-args-compacted-escaped.json')))
  t.ok(received.endsWith('"args":{ "a" : "<b>&" ,  "n": [1, 2] }}'), 'args verbatim')
})
