import Logging
import PostgresClient
import ServiceLifecycle

/// Refreshes the stored report snapshots (`invoiceflow.refresh_reports()`) on a schedule, so auditors and
/// BI tools read aggregates in milliseconds instead of recomputing them over the whole history.
///
/// A failed refresh is logged and tried again at the next tick; the previous snapshot stays readable
/// (the refresh replaces it in one transaction).
public struct ReportRefreshService: Service {
    private let configuration: PostgresConfiguration
    private let interval: Duration
    private let logger: Logger

    /// A service refreshing every `interval`, the first time right after start.
    public init(configuration: PostgresConfiguration, interval: Duration, logger: Logger) {
        self.configuration = configuration.setting("application_name", "invoiceflow-reports")
        self.interval = interval
        self.logger = logger
    }

    /// Refreshes until graceful shutdown or cancellation.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await refreshOnce()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One refresh on a connection of its own; errors are logged, not thrown.
    func refreshOnce() async {
        let started = ContinuousClock.now
        do {
            let connection = try await PostgresConnection.connect(configuration, logger: logger)
            do {
                let rows = try await connection.query("SELECT report, row_count FROM invoiceflow.refresh_reports()")
                await connection.close()
                logger.info(
                    "report snapshots refreshed",
                    metadata: [
                        "reports": "\(rows.count)",
                        "duration_ms": "\(Int((ContinuousClock.now - started) / .milliseconds(1)))",
                    ])
            } catch {
                await connection.close()
                throw error
            }
        } catch {
            guard !Task.isCancelled else { return }
            logger.warning(
                "report snapshot refresh failed; the previous snapshot stays", metadata: ["error": "\(error)"])
        }
    }
}
