import t from 'tap'
import { join } from 'node:path'
import { startCoordinator, post, goUrl } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { startHttpHook } from '../fixtures/hook-sink.js'

t.test('taskURL unix: sent to that socket as is with taskURL cleared, untracked', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const target = join(c.dir, 'elsewhere', 'direct.sock')
  const provider = await startFakeProvider({ path: target })
  t.teardown(() => provider.close())
  const answer = await post(c.url('/'), JSON.stringify({
    id: 'tu1', task: 'Anything', taskURL: goUrl('unix', '', target), responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/h'), args: [1]
  }))
  t.equal(answer.status, 200)
  t.equal(JSON.parse(answer.body).error, '')
  const received = JSON.parse(provider.received[0] ?? '{}')
  t.equal(received.taskURL, null)
  t.same(received.responseHook, goUrl('http', `127.0.0.1:${hook.port}`, '/h'), 'hook untouched')
  t.equal(c.coordinator.tracker.size, 0)
})

t.test('taskURL http: forwarded to another coordinator, response comes back through /proxy', async t => {
  const local = await startCoordinator(t)
  const remote = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({
    path: join(remote.dir, 'CPUInfo', '10-p.sock'),
    reply: () => ({ result: '{"via":"proxy"}', streamURL: JSON.stringify(goUrl('unix', '', '/run/r/s.sock')) })
  })
  t.teardown(() => provider.close())

  const answer = await post(local.url('/'), JSON.stringify({
    id: 'fed1',
    task: 'CPUInfo',
    taskURL: goUrl('http', `127.0.0.1:${remote.coordinator.addresses.httpPort}`, '/'),
    responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/hook-fed'),
    args: { guest_id: 'g1' }
  }))
  t.equal(answer.status, 200)
  t.equal(JSON.parse(answer.body).error, '')

  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.path, '/hook-fed')
  t.equal(delivered?.json.id, 'fed1')
  t.same(delivered?.json.result, { via: 'proxy' })
  // The remote rewrote the stream to its /stream; we rewrote that to ours.
  const streamURL = delivered?.json.streamURL as Record<string, string>
  t.equal(streamURL.Host, `localhost:${local.coordinator.addresses.httpPort}`)
  t.match(streamURL.RawQuery, /^addr=http%3A%2F%2F127\.0\.0\.1%3A\d+%2Fstream%3Faddr%3Dunix/)
  t.equal(local.coordinator.tracker.size, 0)
  t.equal(remote.coordinator.tracker.size, 0)
})

t.test('taskURL http to a coordinator that refuses: its error is the client\'s ack', async t => {
  const local = await startCoordinator(t)
  const remote = await startCoordinator(t)
  const answer = await post(local.url('/'), JSON.stringify({
    id: 'fed2', task: 'Missing', taskURL: `http://127.0.0.1:${remote.coordinator.addresses.httpPort}/`, responseHook: 'http://127.0.0.1:9/h'
  }))
  t.equal(answer.status, 502)
  t.equal(JSON.parse(answer.body).error, 'no providers available for task')
  t.equal(local.coordinator.tracker.size, 0)
})

t.test('taskURL http that nobody serves: 502 and untracked', async t => {
  const local = await startCoordinator(t, { hook_retries: 1 })
  const answer = await post(local.url('/'), JSON.stringify({
    id: 'fed3', task: 'X', taskURL: 'http://127.0.0.1:9/', responseHook: 'http://127.0.0.1:9/h'
  }))
  t.equal(answer.status, 502)
  t.match(JSON.parse(answer.body).error, /forwarding to http:\/\/127\.0\.0\.1:9\/ failed/)
  t.equal(local.coordinator.tracker.size, 0)
})
