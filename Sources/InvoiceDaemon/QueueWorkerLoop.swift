import Logging
import PostgresClient

/// The loop every queue worker of the daemon runs (the router, the mailer): one database connection,
/// a round of work, then a wait for a wake-up or the sweep timer (NOTIFY is only a hint). A failed round
/// closes the connection, backs off (capped exponential: a database that is down is not hammered) and
/// reconnects; cancellation ends the loop and closes the connection.
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
                failures = 0
            } catch {
                if Task.isCancelled { break }
                failures += 1
                logger.error(failure, metadata: metadata.merging(["error": "\(error)"]) { $1 })
                await connection?.close()
                connection = nil
                try? await Task.sleep(for: .milliseconds(min(5_000, 100 << min(failures, 6))))
                continue
            }
            await wake.wait(timeout: sweepInterval)
        }
        await connection?.close()
    }
}
