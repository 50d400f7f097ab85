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
            // The router writes the new tasks' mails in the routing transaction, rendered as the mailer's are.
            // Task mails link to the confirmation page, signed for their recipient (docs/web.md).
            let actionLinks = try settings.http.actionLinks(publicURL: settings.mail.publicURL)
            let composer = try MailComposer(
                sender: settings.mail.sender, publicURL: settings.mail.publicURL, actionLinks: actionLinks)
            let router = RouterService(
                configuration: database.configuration, logger: logger, mail: RouterMail(composer: composer))
            let mailer = try MailerService(settings.mail, configuration: database.configuration, logger: logger)
            let scheduler = SchedulerService(
                configuration: database.configuration,
                composer: composer,
                interval: settings.schedulerInterval, logger: logger)
            // One LISTEN connection for the whole daemon; a reconnect's sweep wakes every worker.
            let listener = WorkListenerService(configuration: database.configuration, logger: logger) { reason in
                logger.debug("work wake-up", metadata: ["reason": "\(reason)"])
                switch reason {
                case .notified(let channel) where channel == MailOutbox.channel: mailer.wake.signal()
                case .notified: router.wake.signal()
                case .sweep:
                    systemd.ready()
                    router.wake.signal()
                    mailer.wake.signal()
                    scheduler.wake.signal()
                }
            }
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: listener), .init(service: router), .init(service: mailer), .init(service: scheduler),
                .init(service: SystemdNotifyService(notifier: systemd)),
            ]
            let context = Context(
                settings: settings, database: database.configuration, logger: logger, metrics: metrics,
                listenerConnected: { listener.isConnected })
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
