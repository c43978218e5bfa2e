#!/usr/bin/env node
/**
 * The example provider as a program, with the original provider's flags:
 *
 *   node dist/examples/example-provider.js -n example -s /tmp/cerana \
 *     -u unix:///tmp/cerana/coordinator/coordinator.sock [--file_root <dir>]
 *
 * It serves the example tasks until SIGINT or SIGTERM, then stops gracefully.
 */
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { createLogger, type Logger } from '../core/log.js'
import type { LogLevel } from '../core/config.js'
import { Provider } from '../provider/provider.js'
import { DEFAULT_PRIORITY, DEFAULT_SOCKET_DIR } from '../provider/provider-options.js'
import { registerExampleTasks } from './example-tasks.js'

const USAGE = `Usage: example-provider [options]

Serves the example tasks (CPUInfo, MemoryInfo, SystemStatus, Echo, Stream).

  -n, --service_name <name>     provider name (default example)
  -s, --socket_dir <dir>        socket directory shared with the coordinator (default ${DEFAULT_SOCKET_DIR})
  -u, --coordinator_url <url>   coordinator for SystemStatus's calls
                                (default unix://<socket_dir>/coordinator/coordinator.sock)
  -p, --default_priority <n>    task priority (default ${DEFAULT_PRIORITY})
  -l, --log_level <level>       debug, info, warning, error (default warning)
      --file_root <dir>         directory whose files the Stream task may serve (default: none)
  -h, --help                    print this text and exit
`

const LEVELS: Readonly<Record<string, LogLevel>> = { debug: 'debug', info: 'info', warn: 'warn', warning: 'warn', error: 'error' }

function fail (message: string): never {
  process.stderr.write(`example-provider: ${message}\n`)
  process.exit(2)
}

async function main (): Promise<void> {
  let values
  try {
    values = parseArgs({
      options: {
        service_name: { type: 'string', short: 'n', default: 'example' },
        socket_dir: { type: 'string', short: 's', default: DEFAULT_SOCKET_DIR },
        coordinator_url: { type: 'string', short: 'u' },
        default_priority: { type: 'string', short: 'p', default: String(DEFAULT_PRIORITY) },
        log_level: { type: 'string', short: 'l', default: 'warning' },
        file_root: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false }
      },
      strict: true
    }).values
  } catch (err) {
    fail((err as Error).message)
  }
  if (values.help === true) {
    process.stdout.write(USAGE)
    return
  }
  const level = LEVELS[values.log_level ?? '']
  if (level === undefined) fail(`--log_level: '${values.log_level ?? ''}' is not a level`)
  if (!/^\d+$/.test(values.default_priority ?? '')) fail(`--default_priority: '${values.default_priority ?? ''}' is not a number`)
  const log: Logger = createLogger(level)
  const socketDir = values.socket_dir ?? DEFAULT_SOCKET_DIR

  let provider: Provider
  try {
    provider = new Provider({
      serviceName: values.service_name ?? 'example',
      socketDir,
      coordinatorUrl: values.coordinator_url ?? `unix://${join(socketDir, 'coordinator', 'coordinator.sock')}`,
      defaultPriority: Number(values.default_priority),
      log
    })
    registerExampleTasks(provider, values.file_root === undefined ? {} : { fileRoot: values.file_root })
  } catch (err) {
    fail((err as Error).message)
  }
  try {
    await provider.start()
  } catch (err) {
    log.fatal('failed to start', { error: err })
    process.stderr.write(`example-provider: cannot start: ${(err as Error).message}\n`)
    process.exit(1)
  }
  process.stdout.write(`example provider '${provider.serviceName}' serving ${provider.tasks.join(', ')} in ${socketDir}\n`)
  provider.stopOnSignal()
}

void main()
