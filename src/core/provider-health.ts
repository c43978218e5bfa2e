/**
 * Load sharing among a task's providers: the order to try them in for one request, and what
 * their last dispatch said.
 *
 * - Providers of equal priority share the load: each request starts one step further round
 *   the run of sockets that share its priority (`10-a`, `10-b` → a,b then b,a ...). The
 *   priority runs stay in order: `20-*` is only tried after every `10-*`.
 * - A provider whose last dispatch failed (refused, closed, error ack, no ack in time)
 *   cools down for `cooldownMs`: while it does, it is moved behind every provider that is
 *   not cooling down, so it is skipped as long as another one takes the request, and only
 *   tried as a last resort rather than failing the request. Its next success ends it.
 */
import { performance } from 'node:perf_hooks'
import { MAX_CACHED_TASKS, providerPriority } from './providers.js'

/** What the last dispatch to one provider socket said, for `/tasks`. */
export interface ProviderStatus {
  socket: string
  /** whether the socket acked its last dispatch without error; null: not dispatched to yet */
  answered: boolean | null
  /** when that last dispatch ended, ISO 8601; null: not dispatched to yet */
  lastDispatchAt: string | null
  /** why the last dispatch failed ('' when it did not) */
  lastError: string
  /** time left of its cool-down, ms (0: not cooling down) */
  coolingDownMs: number
}

/** Options of a ProviderHealth. */
export interface ProviderHealthOptions {
  /** how long a provider that just failed is skipped while others are available; 0 = never */
  cooldownMs: number
  /** most tasks whose rotation and outcomes are kept (default: the provider cache's bound) */
  maxTasks?: number
}

interface SocketHealth {
  answered: boolean
  /** Date.now() at the end of the last dispatch */
  at: number
  error: string
  /** performance.now() until which it cools down */
  coolUntil: number
}

interface TaskState {
  /** the socket list as last seen, in priority order */
  sockets: readonly string[]
  /** end (exclusive) of each run of equal priority in `sockets` */
  runEnds: number[]
  /** requests ordered so far: the rotation */
  turn: number
  health: Map<string, SocketHealth>
  /** the latest coolUntil of any socket: past it, nothing of this task cools down */
  coolingUntil: number
}

/** Orders a task's providers for each request (rotation, cool-down) and records outcomes. */
export class ProviderHealth {
  readonly #cooldownMs: number
  readonly #maxTasks: number
  readonly #tasks = new Map<string, TaskState>()

  constructor (opts: ProviderHealthOptions) {
    this.#cooldownMs = opts.cooldownMs
    this.#maxTasks = opts.maxTasks ?? MAX_CACHED_TASKS
  }

  /**
   * The order to try `sockets` (a lookup's result, in priority order) for one request; each
   * call advances the task's rotation.
   */
  order (task: string, sockets: readonly string[]): readonly string[] {
    if (sockets.length === 0) return sockets
    const state = this.#state(task, sockets)
    return arrange(state, sockets, state.turn++)
  }

  /** The order the next request would use, without advancing the rotation. */
  peek (task: string, sockets: readonly string[]): readonly string[] {
    if (sockets.length === 0) return sockets
    // A look does not make (or evict) any task's state.
    const state = this.#tasks.has(task) ? this.#state(task, sockets) : newState(sockets)
    return arrange(state, sockets, state.turn)
  }

  /** Records that `socket` acked a dispatch; ends its cool-down. */
  succeeded (task: string, socket: string): void {
    this.#record(task, socket, true, '')
  }

  /** Records that `socket` failed a dispatch; it cools down. */
  failed (task: string, socket: string, error: string): void {
    this.#record(task, socket, false, error)
  }

  /** The next request's order with each socket's last outcome, for `/tasks`. */
  describe (task: string, sockets: readonly string[]): ProviderStatus[] {
    const now = performance.now()
    const state = this.#tasks.get(task)
    return this.peek(task, sockets).map(socket => {
      const h = state?.health.get(socket)
      if (h === undefined) return { socket, answered: null, lastDispatchAt: null, lastError: '', coolingDownMs: 0 }
      return {
        socket,
        answered: h.answered,
        lastDispatchAt: new Date(h.at).toISOString(),
        lastError: h.error,
        coolingDownMs: h.coolUntil > now ? Math.ceil(h.coolUntil - now) : 0
      }
    })
  }

  /** Sockets cooling down now, over every task. */
  coolingCount (): number {
    const now = performance.now()
    let n = 0
    for (const state of this.#tasks.values()) {
      if (state.coolingUntil <= now) continue
      for (const h of state.health.values()) if (h.coolUntil > now) n++
    }
    return n
  }

  #record (task: string, socket: string, answered: boolean, error: string): void {
    const state = this.#tasks.get(task) ?? this.#create(task, [])
    const coolUntil = answered || this.#cooldownMs === 0 ? 0 : performance.now() + this.#cooldownMs
    const h = state.health.get(socket)
    if (h === undefined) {
      state.health.set(socket, { answered, at: Date.now(), error, coolUntil })
    } else {
      h.answered = answered
      h.at = Date.now()
      h.error = error
      h.coolUntil = coolUntil
    }
    if (coolUntil > state.coolingUntil) state.coolingUntil = coolUntil
  }

  /** The task's state, its runs recomputed when its socket list changed. */
  #state (task: string, sockets: readonly string[]): TaskState {
    const state = this.#tasks.get(task)
    if (state === undefined) return this.#create(task, sockets)
    if (!sameList(state.sockets, sockets)) {
      state.sockets = sockets.slice()
      state.runEnds = runEnds(sockets)
      // Sockets that left the directory take their outcomes with them.
      for (const socket of state.health.keys()) if (!sockets.includes(socket)) state.health.delete(socket)
    }
    return state
  }

  #create (task: string, sockets: readonly string[]): TaskState {
    if (this.#tasks.size >= this.#maxTasks) {
      const oldest = this.#tasks.keys().next().value
      if (oldest !== undefined) this.#tasks.delete(oldest)
    }
    const state = newState(sockets)
    this.#tasks.set(task, state)
    return state
  }
}

function newState (sockets: readonly string[]): TaskState {
  return { sockets: sockets.slice(), runEnds: runEnds(sockets), turn: 0, health: new Map(), coolingUntil: 0 }
}

/** The sockets of one request's order: each run rotated by `turn`, cooling ones moved last. */
function arrange (state: TaskState, sockets: readonly string[], turn: number): readonly string[] {
  if (sockets.length === 1) return sockets
  // No clock read on the hot path unless something of this task failed lately.
  const now = state.coolingUntil === 0 ? 0 : performance.now()
  const checkCooling = state.coolingUntil > now
  if (!checkCooling) state.coolingUntil = 0
  // Every socket alone in its priority and none cooling down: the lookup's order as is.
  if (state.runEnds.length === sockets.length && !checkCooling) return sockets
  const out: string[] = []
  let cooling: string[] | undefined
  let start = 0
  for (const end of state.runEnds) {
    const k = end - start
    const offset = turn % k
    for (let j = 0; j < k; j++) {
      const socket = sockets[start + ((offset + j) % k)] as string
      if (checkCooling && (state.health.get(socket)?.coolUntil ?? 0) > now) (cooling ??= []).push(socket)
      else out.push(socket)
    }
    start = end
  }
  if (cooling !== undefined) for (const socket of cooling) out.push(socket)
  return out
}

/** End (exclusive) of each run of sockets whose names share a priority. */
function runEnds (sockets: readonly string[]): number[] {
  const ends: number[] = []
  let previous: string | undefined
  for (let i = 0; i < sockets.length; i++) {
    const priority = providerPriority(baseName(sockets[i] as string))
    if (previous !== undefined && priority !== previous) ends.push(i)
    previous = priority
  }
  if (sockets.length > 0) ends.push(sockets.length)
  return ends
}

function baseName (socket: string): string {
  return socket.slice(socket.lastIndexOf('/') + 1)
}

function sameList (a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
