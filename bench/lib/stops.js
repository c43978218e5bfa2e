/**
 * Teardown of a scenario's processes: a list of stop functions, run in reverse order of start.
 */

/** Runs and empties `stops`, last-started first. */
export async function stopAll (stops) {
  while (stops.length > 0) await stops.pop()()
}
