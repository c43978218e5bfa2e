/**
 * The operator's routes: `GET /healthz` (liveness and drain), `GET /metrics` (Prometheus
 * text) and `GET /tasks` (task directories and their providers in the order the next
 * request would try them, with what their last dispatch said).
 */
import type { Dirent } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import { join } from 'node:path'
import type { CoordinatorMetrics } from './coordinator-metrics.js'
import { httpStatusOf } from './errors.js'
import type { Logger } from './log.js'
import { EXPOSITION_CONTENT_TYPE } from './metrics.js'
import type { ProviderStatus, ProviderHealth } from './provider-health.js'
import type { ProviderDirectory } from './providers.js'
import { sendBody, type RouteHandler } from '../http/server.js'

const TEXT = 'text/plain; charset=utf-8'

/** What `/healthz` answers from: the coordinator's lifecycle state. */
export type HealthState = 'new' | 'starting' | 'running' | 'draining' | 'stopped'

/** `GET /healthz`: 200 `ok` while serving, 503 `draining` (or `starting`) otherwise. */
export function httpHealthRoute (state: () => HealthState): RouteHandler {
  const unready = httpStatusOf({ code: 'ERR_NOT_READY' })
  const draining = httpStatusOf({ code: 'ERR_SHUTTING_DOWN' })
  return (_req, res) => {
    const now = state()
    noStore(res)
    if (now === 'running') sendBody(res, 200, 'ok\n', TEXT)
    else if (now === 'draining' || now === 'stopped') sendBody(res, draining, 'draining\n', TEXT)
    else sendBody(res, unready, 'starting\n', TEXT)
  }
}

/** `GET /metrics`: the Prometheus text exposition. */
export function httpMetricsRoute (metrics: CoordinatorMetrics): RouteHandler {
  return (_req, res) => {
    noStore(res)
    sendBody(res, 200, metrics.render(), EXPOSITION_CONTENT_TYPE)
  }
}

/** What `/tasks` reads. */
export interface TasksRouteOptions {
  socketDir: string
  providers: ProviderDirectory
  health: ProviderHealth
  /** directories of `socketDir` that are the coordinator's own, not tasks */
  ownDirs: ReadonlySet<string>
  log: Logger
}

/** One task directory and its providers, in the order the next request would try them. */
export interface TaskListing {
  task: string
  providers: ProviderStatus[]
}

/** `GET /tasks`: `{ socketDir, tasks: [{ task, providers: [...] }] }`, tasks by name. */
export function httpTasksRoute (opts: TasksRouteOptions): RouteHandler {
  return (_req, res) => { void answerTasks(opts, res) }
}

/** Every task directory under socketDir, by name, with its providers. */
export async function listTasks (opts: TasksRouteOptions): Promise<TaskListing[]> {
  let dirents: Dirent[]
  try {
    dirents = await readdir(opts.socketDir, { withFileTypes: true })
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return []
    throw err
  }
  const names: string[] = []
  for (const d of dirents) {
    if (opts.ownDirs.has(d.name)) continue
    if (d.isDirectory() || (d.isSymbolicLink() && await isDirectory(join(opts.socketDir, d.name)))) names.push(d.name)
  }
  names.sort()
  const listings = await Promise.all(names.map(async task => {
    try {
      const sockets = await opts.providers.lookup(task)
      return { task, providers: opts.health.describe(task, sockets) }
    } catch (err) {
      // One unreadable directory does not hide the others.
      opts.log.warn('tasks: cannot list a task directory', { task, error: err })
      return undefined
    }
  }))
  return listings.filter((l): l is TaskListing => l !== undefined)
}

async function answerTasks (opts: TasksRouteOptions, res: ServerResponse): Promise<void> {
  noStore(res)
  let tasks: TaskListing[]
  try {
    tasks = await listTasks(opts)
  } catch (err) {
    opts.log.error('tasks: cannot read the socket directory', { dir: opts.socketDir, error: err })
    sendBody(res, httpStatusOf(err), JSON.stringify({ error: `cannot read ${opts.socketDir}: ${(err as Error).message}` }) + '\n')
    return
  }
  sendBody(res, 200, JSON.stringify({ socketDir: opts.socketDir, tasks }, null, 2) + '\n')
}

async function isDirectory (path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory()
  } catch {
    return false
  }
}

function noStore (res: ServerResponse): void {
  res.setHeader('Cache-Control', 'no-store')
}
