import Logging
import PostgresClient
import ServiceLifecycle

/// The daemon's own workers, wired as `invoiceflow serve` runs them: one LISTEN connection whose
/// wake-ups reach the router (work channel), the mailer (mail channel) and, on every sweep, all of them
/// and the scheduler; the router and the scheduler render their mails with one composer whose task links
/// are signed for their recipients (docs/web.md). `invoiceflow demo` runs the same workers, so the demo
/// shows what production does.
public struct DaemonWorkers: Sendable {
    /// Claims routing work and writes each transition with its tasks' mails.
    public let router: RouterService
    /// Drains the outbox into the relay or the mail folder.
    public let mailer: MailerService
    /// Sends reminders, escalations, payment-day and overdue-documents notices.
    public let scheduler: SchedulerService
    /// The one LISTEN connection that wakes the others.
    public let listener: WorkListenerService

    /// Builds the workers over `database`.
    ///
    /// - Parameter onSweep: called on every sweep the listener asks for (at start and after each
    ///   reconnect), before the workers are woken; `serve` reports readiness to systemd there.
    public init(
        settings: Configuration, database: PostgresConfiguration, metrics: DaemonMetrics, logger: Logger,
        onSweep: @escaping @Sendable () -> Void = {}
    ) throws {
        let actionLinks = try settings.http.actionLinks(publicURL: settings.mail.publicURL)
        let composer = try MailComposer(
            sender: settings.mail.sender, publicURL: settings.mail.publicURL, actionLinks: actionLinks)
        var router = RouterService(
            configuration: database, logger: logger, mail: RouterMail(composer: composer),
            connections: settings.routerConnections)
        router.metrics = metrics
        var mailer = try MailerService(settings.mail, configuration: database, logger: logger)
        mailer.metrics = metrics
        let scheduler = SchedulerService(
            configuration: database, composer: composer, interval: settings.schedulerInterval, logger: logger)
        let (routerWake, mailerWake) = (router.wake, mailer.wake)
        listener = WorkListenerService(configuration: database, logger: logger) { reason in
            logger.debug("work wake-up", metadata: ["reason": "\(reason)"])
            switch reason {
            case .notified(let channel) where channel == MailOutbox.channel: mailerWake.signal()
            case .notified: routerWake.signal()
            case .sweep:
                onSweep()
                routerWake.signal()
                mailerWake.signal()
                scheduler.wake.signal()
            }
        }
        self.router = router
        self.mailer = mailer
        self.scheduler = scheduler
    }

    /// The workers as services of one group, the listener first.
    public var services: [any Service] { [listener, router, mailer, scheduler] }
}
