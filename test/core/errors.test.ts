import t from 'tap'
import { CoordinatorError, httpStatusOf } from '../../src/core/errors.js'

t.test('maps coded errors to the statuses of SPEC 2.4', async t => {
  t.equal(httpStatusOf(new CoordinatorError('ERR_MESSAGE_JSON', 'x')), 400)
  t.equal(httpStatusOf(new CoordinatorError('ERR_NO_PROVIDERS', 'x')), 404)
  t.equal(httpStatusOf(new CoordinatorError('ERR_BODY_TOO_LARGE', 'x')), 413)
  t.equal(httpStatusOf(new CoordinatorError('ERR_NO_PROVIDER_ACCEPTED', 'x')), 502)
  t.equal(httpStatusOf(new CoordinatorError('ERR_SHUTTING_DOWN', 'x')), 503)
})

t.test('anything without a known code is a 500', async t => {
  t.equal(httpStatusOf(new CoordinatorError('ERR_SOMETHING_NEW', 'x')), 500)
  t.equal(httpStatusOf(new Error('plain')), 500)
  t.equal(httpStatusOf(null), 500)
  t.equal(httpStatusOf({ code: 42 }), 500)
})

t.test('expected errors carry no stack trace, and leave the process setting as it was', async t => {
  const before = Error.stackTraceLimit
  const err = new CoordinatorError('ERR_NO_PROVIDERS', 'no providers available for task')
  t.notMatch(err.stack ?? '', /\n\s+at /)
  t.equal(Error.stackTraceLimit, before)
  t.match(new Error('unexpected').stack ?? '', /\n\s+at /, 'other errors keep theirs')
})
