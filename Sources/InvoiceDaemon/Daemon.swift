import Logging
import PostgresClient
import ServiceLifecycle

/// The long-running `invoiceflow serve` process: database ready, schema migrated, services running
/// until SIGTERM or SIGINT, then a graceful shutdown that stops what it started.
public enum Daemon {
    /// What a service added by the caller of ``serve(_:logger:services:)`` may use: the settings, the
    /// database the daemon migrated (a private cluster's or the configured one), and the logger.
    public struct Context: Sendable {
        /// The daemon's whole configuration, read once at start.
        public var settings: Configuration
        /// The database the daemon uses, ready and migrated.
        public var database: PostgresConfiguration
        /// The daemon's logger.
        public var logger: Logger
        /// The router's and mailer's event counters, for `/metrics`.
        public var metrics: DaemonMetrics
        /// Whether the daemon's LISTEN connection is up right now, for `/healthz`.
        public var listenerConnected: @Sendable () -> Bool
    }

    /// Serves until a shutdown signal arrives.
    ///
    /// - Parameters:
    ///   - metrics: the event counters; by default made through the process-wide `MetricsSystem`, which
    ///     the executable bootstraps before calling this.
    ///   - services: extra services run in the same group as the daemon's own, such as the HTTP
    ///     server of `InvoiceWeb` (passed in by the executable so this module does not depend on it).
    public static func serve(
        _ settings: Configuration, logger: Logger, metrics: DaemonMetrics = DaemonMetrics(),
        services extra: @Sendable (Context) throws -> [any Service] = { _ in [] }
    ) async throws {
        let database = try await DatabaseBootstrap.start(settings, logger: logger)
        do {
            let report = try await database.migrate(logger: logger)
            logger.info(
                "schema up to date",
                metadata: ["applied_now": "\(report.applied.count)", "applied_before": "\(report.alreadyApplied)"])

            // Type=notify: READY=1 once migrated and listening (deploy/invoiceflow.service).
            let systemd = SystemdNotifier(logger: logger)
            let workers = try DaemonWorkers(
                settings: settings, database: database.configuration, metrics: metrics, logger: logger,
                onSweep: { systemd.ready() })
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = workers.services.map { .init(service: $0) }
            services.append(.init(service: SystemdNotifyService(notifier: systemd)))
            let context = Context(
                settings: settings, database: database.configuration, logger: logger, metrics: metrics,
                listenerConnected: { workers.listener.isConnected })
            for service in try extra(context) {
                services.append(.init(service: service))
            }
            if let interval = settings.reportRefreshInterval {
                services.append(
                    .init(
                        service: ReportRefreshService(
                            configuration: database.configuration, interval: interval, logger: logger)))
            }
            let group = ServiceGroup(
                configuration: .init(
                    services: services,
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger))
            logger.notice("invoiceflow is serving; stop with Ctrl-C or SIGTERM")
            try await group.run()
        } catch {
            await database.stop(logger: logger)
            throw error
        }
        await database.stop(logger: logger)
        logger.notice("invoiceflow stopped")
    }
}
