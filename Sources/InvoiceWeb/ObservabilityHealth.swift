import Foundation
import Logging
import PostgresClient

/// The outcome of one health check: each part of the daemon that must work for invoices to flow, and
/// whether all of them do.
public struct HealthReport: Sendable, Hashable {
    /// One checked part and what is wrong with it, if anything.
    public struct Check: Sendable, Hashable {
        /// `database`, `listener` or `mailer`.
        public var name: String
        /// nil when healthy; otherwise a short reason for operators (no secrets, no invoice data).
        public var problem: String?
    }

    /// The checks in a fixed order: database, listener, mailer.
    public var checks: [Check]

    /// Whether every check passed.
    public var isHealthy: Bool { checks.allSatisfy { $0.problem == nil } }

    /// The response body: `{"status":"ok","checks":{"database":"ok",...}}`, or `"status":"unhealthy"` with
    /// each failing check's reason in place of `ok`. Keys sorted, so the body is stable.
    public var json: String {
        var body: [String: Any] = ["status": isHealthy ? "ok" : "unhealthy"]
        var parts: [String: String] = [:]
        for check in checks { parts[check.name] = check.problem ?? "ok" }
        body["checks"] = parts
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Checks the database (one cheap query within the observability's timeouts), the listener and the
    /// outbox's pause. Returns the queue figures it read on the way, for the metrics.
    static func check(_ observability: WebObservability, logger: Logger) async -> (HealthReport, QueueFigures?) {
        var figures: QueueFigures? = nil
        var database: String? = nil
        do {
            figures = try await readFigures(observability, logger: logger)
            if !observability.databaseReachable.exchange(true) {
                logger.info("health check: database reachable again")
            }
        } catch {
            // Probes come every few seconds: log the change, not every failed probe.
            let wasReachable = observability.databaseReachable.exchange(false)
            logger.log(
                level: wasReachable ? .warning : .debug, "health check: database unreachable",
                metadata: ["error": "\(error)"])
            database = "unreachable"
        }
        let listener = observability.listenerConnected() ? nil : "not connected"
        let mailer: String?
        switch (figures, figures?.mailPausedReason) {
        case (nil, _): mailer = "unknown (database unreachable)"
        case (_, .some): mailer = "paused; see `invoiceflow mail status`"
        case (_, nil): mailer = nil
        }
        let report = HealthReport(checks: [
            Check(name: "database", problem: database), Check(name: "listener", problem: listener),
            Check(name: "mailer", problem: mailer),
        ])
        return (report, figures)
    }

    /// One short-lived connection as the daemon: `connect_timeout` and `statement_timeout` bound the wait,
    /// and nothing is held between scrapes.
    static func readFigures(_ observability: WebObservability, logger: Logger) async throws -> QueueFigures {
        let connection = try await PostgresConnection.connect(observability.database, logger: logger)
        do {
            let figures = try await connection.run { try QueueFigures.read(on: $0) }
            await connection.close()
            return figures
        } catch {
            await connection.close()
            throw error
        }
    }
}
