/**
 * Admission of tracked requests whose response comes back on the response socket.
 *
 * Every such request ends with a provider connecting to the response socket, and libuv
 * accepts one connection per event loop turn, while a turn may take in a request on every
 * ready HTTP connection. Under load, requests then go out far faster than their responses
 * are taken in: the socket's accept queue fills up (4096), and a provider whose connect
 * fails there (Go's net.Dial does not retry EAGAIN) loses its response. The gate bounds the
 * responses owed: past `limit`, a request waits for a slot before it is dispatched, which
 * slows the callers down to the pace of the responses instead of losing them.
 */
import { CoordinatorError } from './errors.js'

/** Options of a ResponseGate. */
export interface ResponseGateOptions {
  /** responses owed at once before requests wait */
  limit: number
  /** longest wait for a slot; then the request is refused with ERR_OVERLOADED */
  waitMs: number
}

interface Waiter {
  admit: () => void
  refuse: (err: Error) => void
  timer: NodeJS.Timeout
}

/** Counts the responses owed and queues the requests past the limit, first come first served. */
export class ResponseGate {
  readonly #o: ResponseGateOptions
  readonly #waiters: Waiter[] = []
  #head = 0
  #owed = 0
  // set by close(): a request that would wait is refused with it at once
  #closedWith: Error | undefined

  constructor (opts: ResponseGateOptions) {
    this.#o = opts
  }

  /** Responses owed now (slots taken). */
  get owed (): number {
    return this.#owed
  }

  /** Requests waiting for a slot. */
  get waiting (): number {
    return this.#waiters.length - this.#head
  }

  /**
   * Takes a slot: undefined when one was free (no await needed on the fast path), else a
   * promise that resolves once a slot is handed over, or rejects with ERR_OVERLOADED after
   * waitMs (at once with close()'s error once closed). Every slot taken must be given back
   * with `release()`.
   */
  acquire (): Promise<void> | undefined {
    if (this.#owed < this.#o.limit && this.waiting === 0) {
      this.#owed++
      return undefined
    }
    if (this.#closedWith !== undefined) return Promise.reject(this.#closedWith)
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { admit: resolve, refuse: reject, timer: undefined as unknown as NodeJS.Timeout }
      waiter.timer = setTimeout(gateOnWaitTimeout, this.#o.waitMs, this, waiter).unref()
      this.#waiters.push(waiter)
    })
  }

  /** Gives a slot back: to the first waiter, or free. */
  release (): void {
    const next = this.#shift()
    if (next === undefined) {
      this.#owed--
      return
    }
    clearTimeout(next.timer)
    next.admit()
  }

  /** Refuses every waiter, and every later request that would wait, with `err` (the coordinator is stopping). */
  close (err: Error): void {
    this.#closedWith = err
    for (let waiter = this.#shift(); waiter !== undefined; waiter = this.#shift()) {
      clearTimeout(waiter.timer)
      waiter.refuse(err)
    }
  }

  /** @internal a waiter's time is up: it leaves the queue refused. */
  expire (waiter: Waiter): void {
    const at = this.#waiters.indexOf(waiter, this.#head)
    if (at === -1) return
    this.#waiters.splice(at, 1)
    waiter.refuse(new CoordinatorError('ERR_OVERLOADED', `too many responses pending (limit ${this.#o.limit})`))
  }

  // A queue on an array with a moving head: shift() would copy the whole array each time.
  #shift (): Waiter | undefined {
    if (this.#head === this.#waiters.length) return undefined
    const waiter = this.#waiters[this.#head++]
    if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
      this.#waiters.splice(0, this.#head)
      this.#head = 0
    }
    return waiter
  }
}

function gateOnWaitTimeout (gate: ResponseGate, waiter: Waiter): void {
  gate.expire(waiter)
}
