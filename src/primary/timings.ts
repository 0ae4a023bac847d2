/**
 * Every deadline and pause of the primary's own machinery, in one object: the upgrade (old and new
 * side), the worker pool, the status channel and the anchor link read them from here, and the unit
 * tests (test/helpers/fake-os.ts) hand the same code a copy with small numbers. Settings the user
 * configures (readyTimeout, gracefulTimeout, ...) are not here: they come from the config.
 */
export interface Timings {
  /** How long a successor may take to connect to the status channel and say hello. */
  successorHelloMs: number
  /** Added to readyTimeout + gracefulTimeout for each step of a successor's start-up (one worker ready). */
  successorStepMarginMs: number
  /** How long a successor waits for its predecessor's welcome, and then for its handover. */
  handoverMs: number
  /** How long a worker started by a rollout must stay up after ready before it gets connections, and a
   * restart's successor after it says ready before it is handed the service. */
  workerSettleMs: number
  /** After a successor's exit is known, how long its last status-channel frames may take to arrive. */
  lastFramesMs: number
  /** After a failed restart, how long we wait for the successor's exit to say why it failed. */
  exitReasonWaitMs: number
  /** How long a failed successor may take to die after SIGKILL (and a stopping one after SIGTERM, on top of its drain). */
  successorKillWaitMs: number
  successorStopMarginMs: number
  /** How long a shutdown waits (on top of its drain) for a successor being started to unwind. */
  shutdownMarginMs: number
  /** How long a rolled-back full restart keeps trying to bind its ports again, and how often. */
  rebindForMs: number
  rebindEveryMs: number
  /** How long a scrape waits for the other generation's counters during a restart. Above the 500 ms
   * the other side waits for its own workers: its answer is fresh when it can be. */
  peerMetricsWaitMs: number
  /** How long the anchor may take to start a successor before the restart gives up on it. */
  anchorSpawnMs: number
  /** How long a connection to the status channel may take to say hello before it is refused. */
  statusHelloMs: number
  /** Worker pool: start-up failures in a row after which a crash loop is reported (and, before any
   * worker was ever ready, start-up gives up); back-off base and cap; how long a worker must live after
   * ready to count as healthy again. */
  crashLoopAt: number
  backoffBaseMs: number
  maxBackoffMs: number
  healthyAfterMs: number
  /** A drain past its deadline: how often a silent worker is checked, and the margin before a kill anyway. */
  drainPollMs: number
  drainKillMarginMs: number
  /** After a handover, how often the new generation looks whether the old one has exited (milliseconds after). */
  predecessorPollMs: number
  /** How long `status` and a scrape wait for the workers' answers. */
  statsWaitMs: number
  metricsWaitMs: number
  /**
   * How long a scrape waits for a ready worker while a rollout runs; one that has not answered by then
   * counts with its last values (monotonic: a newer answer only adds). Workers that just started
   * accepting are busy warming up, and a scrape must not wait on a rollout.
   */
  rolloutMetricsWaitMs: number
}

export const timings: Readonly<Timings> = Object.freeze({
  successorHelloMs: 15_000,
  successorStepMarginMs: 15_000,
  handoverMs: 10_000,
  workerSettleMs: 300,
  lastFramesMs: 200,
  exitReasonWaitMs: 1_000,
  successorKillWaitMs: 3_000,
  successorStopMarginMs: 5_000,
  shutdownMarginMs: 15_000,
  rebindForMs: 60_000,
  rebindEveryMs: 500,
  peerMetricsWaitMs: 600,
  anchorSpawnMs: 10_000,
  statusHelloMs: 2_000,
  crashLoopAt: 5,
  backoffBaseMs: 250,
  maxBackoffMs: 30_000,
  healthyAfterMs: 5_000,
  drainPollMs: 250,
  drainKillMarginMs: 10_000,
  predecessorPollMs: 20,
  statsWaitMs: 250,
  metricsWaitMs: 500,
  rolloutMetricsWaitMs: 50,
})
