/**
 * Provider lookup: the unix sockets in `socketDir/<task>/`, in priority order, cached per task
 * and invalidated by a directory watcher and an age bound.
 */
import { watch, type Dirent, type FSWatcher } from 'node:fs'
import { lstat, readdir } from 'node:fs/promises'
import path from 'node:path'
import invariant from 'tiny-invariant'
import { CoordinatorError } from './errors.js'

/** Most tasks whose provider list (and directory watcher) is kept at once. */
export const MAX_CACHED_TASKS = 1024
/** Longest task name in bytes: one directory entry (NAME_MAX). */
export const MAX_TASK_NAME_BYTES = 255

const DIGIT_0 = 48
const DIGIT_9 = 57
const DASH = 45

/**
 * Throws CoordinatorError('ERR_TASK_NAME') unless task is one plain path segment
 * (non-empty, no '/', no '\0', not '.' or '..').
 */
export function checkTaskName (task: string): void {
  let why: string | undefined
  if (typeof task !== 'string' || task === '') why = 'empty'
  else if (task === '.' || task === '..') why = 'a relative directory'
  else if (task.includes('/')) why = 'contains "/"'
  else if (task.includes('\0')) why = 'contains NUL'
  else if (Buffer.byteLength(task) > MAX_TASK_NAME_BYTES) why = `longer than ${MAX_TASK_NAME_BYTES} bytes`
  if (why !== undefined) {
    throw new CoordinatorError('ERR_TASK_NAME', `invalid task name ${JSON.stringify(task)}: ${why}`)
  }
}

/** Index of the '-' that ends a name's numeric priority (`<digits>-...`), or -1 if it has none. */
function priorityEnd (name: string): number {
  let i = 0
  for (; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c < DIGIT_0 || c > DIGIT_9) break
  }
  return i > 0 && name.charCodeAt(i) === DASH ? i : -1
}

/**
 * A socket name's priority as a digit string without leading zeros (`010-a` → `10`), or ''
 * for a name without one. Two names share a priority when these are equal.
 */
export function providerPriority (name: string): string {
  const end = priorityEnd(name)
  if (end < 0) return ''
  let start = 0
  while (start < end - 1 && name.charCodeAt(start) === DIGIT_0) start++
  return name.slice(start, end)
}

function compareText (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Orders provider socket names: numeric priority ascending (compared as numbers of any size,
 * so `50-b` before `100-a`), names without one after all numbered ones, ties by name.
 */
export function compareProviderNames (a: string, b: string): number {
  const ea = priorityEnd(a)
  const eb = priorityEnd(b)
  if (ea < 0 || eb < 0) {
    if (ea >= 0) return -1
    if (eb >= 0) return 1
    return compareText(a, b)
  }
  // Compare digit strings without parsing: no precision limit, leading zeros ignored.
  let sa = 0
  while (sa < ea - 1 && a.charCodeAt(sa) === DIGIT_0) sa++
  let sb = 0
  while (sb < eb - 1 && b.charCodeAt(sb) === DIGIT_0) sb++
  const la = ea - sa
  const lb = eb - sb
  if (la !== lb) return la < lb ? -1 : 1
  for (let i = 0; i < la; i++) {
    const d = a.charCodeAt(sa + i) - b.charCodeAt(sb + i)
    if (d !== 0) return d < 0 ? -1 : 1
  }
  return compareText(a, b)
}

/** Options of a ProviderDirectory. */
export interface ProviderDirOptions {
  /** the directory holding one sub-directory per task */
  socketDir: string
  /** longest time a cached list is trusted, even without a watcher event; 0 = no cache */
  maxAgeMs: number
}

/** Counters of a ProviderDirectory, for metrics. */
export interface ProviderDirStats {
  /** tasks whose list is cached or being read (each with a watcher) */
  cachedTasks: number
  /** directory reads done */
  reads: number
  /** lookups answered from the cache or by joining a read in flight */
  hits: number
}

interface Entry {
  readonly task: string
  watcher: FSWatcher | undefined
  /** sorted socket paths, once read */
  list: string[] | undefined
  loadedAt: number
  /** the readdir in flight, shared by concurrent lookups */
  pending: Promise<string[]> | undefined
}

/** Finds the provider sockets of a task, caching each task's list while its directory is watched. */
export class ProviderDirectory {
  readonly #root: string
  readonly #maxAgeMs: number
  readonly #entries = new Map<string, Entry>()
  #closed = false
  #reads = 0
  #hits = 0

  constructor (opts: ProviderDirOptions) {
    this.#root = path.resolve(opts.socketDir)
    this.#maxAgeMs = opts.maxAgeMs
  }

  /** Socket paths of the task's providers in the order to try them; [] when none / no directory. */
  async lookup (task: string): Promise<string[]> {
    checkTaskName(task)
    if (this.#closed || !(this.#maxAgeMs > 0)) return await this.#read(task)
    const entry = this.#entries.get(task)
    if (entry !== undefined) {
      if (entry.list !== undefined) {
        if (performance.now() - entry.loadedAt < this.#maxAgeMs) {
          this.#hits++
          return entry.list.slice()
        }
        this.#drop(entry)
      } else if (entry.pending !== undefined) {
        this.#hits++
        return (await entry.pending).slice()
      }
    }
    return (await this.#load(task)).slice()
  }

  /** Cache counters, for metrics and tests. */
  stats (): ProviderDirStats {
    return { cachedTasks: this.#entries.size, reads: this.#reads, hits: this.#hits }
  }

  /** Stops every watcher and empties the cache; later lookups read the directory each time. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    for (const entry of [...this.#entries.values()]) this.#drop(entry)
  }

  /** Reads the task's list, watching its directory first so that no change during the read is missed. */
  #load (task: string): Promise<string[]> {
    const entry: Entry = { task, watcher: undefined, list: undefined, loadedAt: 0, pending: undefined }
    const drop = (): void => { this.#drop(entry) }
    try {
      entry.watcher = watch(this.#taskDir(task), { persistent: false }, drop)
      entry.watcher.on('error', drop)
    } catch (err) {
      // No directory (yet): nothing to cache; it is read again on each lookup until it exists.
      if (isMissing(err)) return Promise.resolve([])
      // Out of watches (ENOSPC, EMFILE): still coalesce this read, but cache nothing unwatched.
    }
    if (this.#entries.size >= MAX_CACHED_TASKS) {
      const oldest = this.#entries.values().next().value
      if (oldest !== undefined) this.#drop(oldest)
    }
    this.#entries.set(task, entry)
    entry.pending = this.#read(task).then(list => {
      entry.pending = undefined
      if (entry.watcher !== undefined && this.#entries.get(task) === entry) {
        entry.list = list
        entry.loadedAt = performance.now()
      } else {
        this.#drop(entry)
      }
      return list
    }, (err: unknown) => {
      entry.pending = undefined
      this.#drop(entry)
      throw err
    })
    return entry.pending
  }

  /** Forgets an entry and stops its watcher (any watcher event, error, expiry or eviction). */
  #drop (entry: Entry): void {
    if (this.#entries.get(entry.task) === entry) this.#entries.delete(entry.task)
    entry.list = undefined
    if (entry.watcher !== undefined) {
      entry.watcher.close()
      entry.watcher = undefined
    }
  }

  #taskDir (task: string): string {
    const dir = path.join(this.#root, task)
    invariant(path.dirname(dir) === this.#root && path.basename(dir) === task, 'task directory outside socketDir')
    return dir
  }

  /** The sorted socket paths in the task's directory, read now. */
  async #read (task: string): Promise<string[]> {
    const dir = this.#taskDir(task)
    this.#reads++
    let dirents: Dirent[]
    try {
      dirents = await readdir(dir, { withFileTypes: true })
    } catch (err) {
      if (isMissing(err)) return []
      throw new CoordinatorError('ERR_PROVIDER_DIR', `cannot read provider directory ${dir}: ${(err as Error).message}`)
    }
    const names: string[] = []
    for (const d of dirents) {
      if (d.isSocket()) names.push(d.name)
      // Reachable on file systems that report DT_UNKNOWN (some NFS, XFS without ftype); not on tmpfs/ext4.
      /* c8 ignore next */
      else if (isUnknownType(d) && await isSocketFile(path.join(dir, d.name))) names.push(d.name)
    }
    names.sort(compareProviderNames)
    const paths = new Array<string>(names.length)
    for (let i = 0; i < names.length; i++) paths[i] = dir + path.sep + (names[i] as string)
    return paths
  }
}

function isMissing (err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

/** DT_UNKNOWN: some file systems do not report the type in readdir; lstat tells. */
function isUnknownType (d: Dirent): boolean {
  return !d.isFile() && !d.isDirectory() && !d.isSymbolicLink() && !d.isSocket() &&
    !d.isFIFO() && !d.isCharacterDevice() && !d.isBlockDevice()
}

async function isSocketFile (file: string): Promise<boolean> {
  try {
    return (await lstat(file)).isSocket()
  } catch {
    // Gone between readdir and lstat: not a provider any more.
    return false
  }
}
