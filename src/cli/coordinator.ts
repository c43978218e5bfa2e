#!/usr/bin/env node
/**
 * The `coordinator` command: configuration from flags and file, then a coordinator that
 * runs until SIGINT or SIGTERM (drain, exit 0; a second signal forces the exit).
 */
import { loadConfig } from './args.js'
import { ConfigError } from '../core/config.js'
import { Coordinator } from '../core/coordinator.js'
import { createLogger } from '../core/log.js'

/** Exit status of invalid configuration or usage, before anything is created. */
const EXIT_USAGE = 2
/** Exit status of a failure to start or to stop cleanly. */
const EXIT_FAILURE = 1

async function main (argv: string[]): Promise<void> {
  let request
  try {
    request = loadConfig(argv)
  } catch (err) {
    process.stderr.write(`coordinator: ${(err as Error).message}\n`)
    process.exit(EXIT_USAGE)
  }
  if (request.kind !== 'run') {
    process.stdout.write(request.text.endsWith('\n') ? request.text : request.text + '\n')
    return
  }
  const config = request.config
  const log = createLogger(config.logLevel)
  let coordinator: Coordinator
  try {
    coordinator = new Coordinator(config, { log })
  } catch (err) {
    // The auth token file is read here: a bad one is a configuration error like the others.
    process.stderr.write(`coordinator: ${(err as Error).message}\n`)
    process.exit(err instanceof ConfigError ? EXIT_USAGE : EXIT_FAILURE)
  }
  try {
    await coordinator.start()
  } catch (err) {
    log.fatal('failed to start', { error: err })
    process.exit(EXIT_FAILURE)
  }
  coordinator.stopOnSignal(err => {
    if (err !== undefined) {
      log.fatal('failed to stop cleanly', { error: err })
      process.exit(EXIT_FAILURE)
    }
    process.exit(0)
  })
}

void main(process.argv.slice(2))
