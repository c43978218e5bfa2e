/** Package entry: the coordinator library API. */
export { CoordinatorError, httpStatusOf } from './core/errors.js'
