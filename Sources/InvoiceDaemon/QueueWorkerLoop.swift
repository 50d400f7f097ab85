import Logging
import PostgresClient

/// The loop every queue worker of the daemon runs (the router, the mailer): one database connection,
/// a round of work, then a wait for a wake-up or the sweep timer (NOTIFY is only a hint). A failed round
/// closes the connection, backs off (capped exponential with jitter: a database that is down is not
/// hammered) and reconnects; cancellation ends the loop and closes the connection.
struct QueueWorkerLoop: Sendable {
    var configuration: PostgresConfiguration
    var wake: RouterWake
    var sweepInterval: Duration
    var logger: Logger

    /// Runs `round` until the task is cancelled; `failure` is logged, with `metadata` and the error, when a
    /// round throws.
    func run(
        failure: Logger.Message, metadata: Logger.Metadata,
        round: (PostgresConnection) async throws -> Void
    ) async {
        var connection: PostgresConnection?
        var failures = 0
        var outageStarted = ContinuousClock.now
        var lastLogged = ContinuousClock.now
        while !Task.isCancelled {
            do {
                let live: PostgresConnection
                if let connection {
                    live = connection
                } else {
                    live = try await PostgresConnection.connect(configuration, logger: logger)
                    connection = live
                }
                try await round(live)
                if failures > 0 {
                    logger.info(
                        "database connection restored",
                        metadata: metadata.merging(
                            ["attempts": "\(failures)", "downtime": "\(outageStarted.duration(to: .now))"]) { $1 })
                }
                failures = 0
            } catch {
                if Task.isCancelled { break }
                failures += 1
                // While the database is down (a restart, a failover) a retry fails every few seconds: the
                // first failure is an error, the rest are debug lines plus a reminder every outageLogInterval,
                // so a long outage costs a few lines a minute, not one per attempt.
                if failures == 1 {
                    outageStarted = .now
                    lastLogged = .now
                    logger.error(failure, metadata: metadata.merging(["error": "\(error)"]) { $1 })
                } else if lastLogged.duration(to: .now) >= Self.outageLogInterval {
                    lastLogged = .now
                    logger.warning(
                        "still no database connection; retrying",
                        metadata: metadata.merging(
                            [
                                "attempts": "\(failures)",
                                "since_s": "\(outageStarted.duration(to: .now).components.seconds)",
                                "error": "\(error)",
                            ]) { $1 })
                } else {
                    logger.debug(failure, metadata: metadata.merging(["error": "\(error)"]) { $1 })
                }
                await connection?.close()
                connection = nil
                try? await Task.sleep(for: Self.reconnectBackoff.delay(afterFailures: failures))
                continue
            }
            await wake.wait(timeout: sweepInterval)
        }
        await connection?.close()
    }

    /// Waits between reconnect attempts: 0.2 s doubling to 2 s, up to 20 % shorter at random so that replicas
    /// do not return in step. The cap bounds how long after a failover's promotion routing resumes (about
    /// the cap at worst) while a database that is down sees one attempt per service every 2 s, not a spin.
    static let reconnectBackoff = Backoff(initial: .milliseconds(200), maximum: .seconds(2))

    /// How often, at most, a continuing outage is logged again (as the listener does).
    static let outageLogInterval: Duration = .seconds(30)
}
