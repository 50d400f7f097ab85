import PostgresClient
import Prometheus

/// The database's answer to `invoiceflow.daemon_queue_metrics()` (migration 0075): queue depths, ages of
/// the oldest pending items, parked and dead counts, the outbox's pause and the NOTIFY queue's fill.
public struct QueueFigures: Sendable, Hashable {
    /// Routing work items not done and not parked (due now or backing off).
    public var routingPending: Int
    /// Of those, the ones claimable now.
    public var routingDue: Int
    /// Routing work items parked for an administrator.
    public var routingParked: Int
    /// Seconds since the oldest pending routing item was queued; 0 when none is.
    public var routingOldestPendingSeconds: Double
    /// Outbox messages not yet sent, dead or cancelled.
    public var mailPending: Int
    /// Of those, the ones due now.
    public var mailDue: Int
    /// Dead-lettered messages.
    public var mailDead: Int
    /// Seconds since the oldest pending message was queued; 0 when none is.
    public var mailOldestPendingSeconds: Double
    /// Why the outbox is paused, if it is.
    public var mailPausedReason: String?
    /// `pg_notification_queue_usage()`: the fraction (0...1) of the server's NOTIFY queue in use.
    public var notificationQueueUsage: Double

    /// Reads the figures as the daemon.
    public static func read(on connection: isolated PostgresConnection) throws -> QueueFigures {
        let row = try connection.query(
            """
            SELECT routing_pending, routing_due, routing_parked, routing_oldest_pending_seconds, mail_pending, mail_due,
                mail_dead, mail_oldest_pending_seconds, mail_paused_reason, notification_queue_usage
            FROM invoiceflow.daemon_queue_metrics()
            """)[0]
        return QueueFigures(
            routingPending: try row.decode("routing_pending"), routingDue: try row.decode("routing_due"),
            routingParked: try row.decode("routing_parked"),
            routingOldestPendingSeconds: try row.decode("routing_oldest_pending_seconds"),
            mailPending: try row.decode("mail_pending"), mailDue: try row.decode("mail_due"),
            mailDead: try row.decode("mail_dead"),
            mailOldestPendingSeconds: try row.decode("mail_oldest_pending_seconds"),
            mailPausedReason: try row.decode("mail_paused_reason", as: String?.self),
            notificationQueueUsage: try row.decode("notification_queue_usage"))
    }
}

extension MetricNameDescriptor {
    /// A metric whose whole name is `name` (no namespace or unit parts), with its HELP text.
    static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}

/// The gauges set from the database at each scrape, registered with their help text.
struct QueueGauges: Sendable {
    let databaseUp: Gauge
    let listenerConnected: Gauge
    let routingPending: Gauge
    let routingDue: Gauge
    let routingParked: Gauge
    let routingOldestAge: Gauge
    let mailPending: Gauge
    let mailDue: Gauge
    let mailDead: Gauge
    let mailOldestAge: Gauge
    let mailPaused: Gauge
    let notificationQueueUsage: Gauge

    init(registry: PrometheusCollectorRegistry) {
        databaseUp = registry.makeGauge(
            descriptor: .named(
                "invoiceflow_database_up",
                help: "1 when the last scrape read the queue figures from PostgreSQL, 0 when it could not."))
        listenerConnected = registry.makeGauge(
            descriptor: .named("invoiceflow_listener_connected", help: "1 while the daemon's LISTEN connection is up."))
        let routing = "invoiceflow_routing_queue_items"
        let routingHelp = "Routing work items by state: pending (not done, not parked), due (claimable now), parked."
        routingPending = registry.makeGauge(
            descriptor: .named(routing, help: routingHelp), labels: [("state", "pending")])
        routingDue = registry.makeGauge(descriptor: .named(routing, help: routingHelp), labels: [("state", "due")])
        routingParked = registry.makeGauge(
            descriptor: .named(routing, help: routingHelp), labels: [("state", "parked")])
        routingOldestAge = registry.makeGauge(
            descriptor: .named(
                "invoiceflow_routing_oldest_pending_age_seconds",
                help: "Age of the oldest pending routing work item (0 when none), measured by the database clock."))
        let mail = "invoiceflow_mail_outbox_messages"
        let mailHelp = "Outbox messages by state: pending (not yet sent), due (sendable now), dead (dead-lettered)."
        mailPending = registry.makeGauge(descriptor: .named(mail, help: mailHelp), labels: [("state", "pending")])
        mailDue = registry.makeGauge(descriptor: .named(mail, help: mailHelp), labels: [("state", "due")])
        mailDead = registry.makeGauge(descriptor: .named(mail, help: mailHelp), labels: [("state", "dead")])
        mailOldestAge = registry.makeGauge(
            descriptor: .named(
                "invoiceflow_mail_oldest_pending_age_seconds",
                help: "Age of the oldest unsent outbox message (0 when none), measured by the database clock."))
        mailPaused = registry.makeGauge(
            descriptor: .named(
                "invoiceflow_mail_queue_paused",
                help: "1 while the outbox is paused after a relay configuration fault (see `invoiceflow mail status`).")
        )
        notificationQueueUsage = registry.makeGauge(
            descriptor: .named(
                "invoiceflow_notification_queue_usage_ratio",
                help: "pg_notification_queue_usage(): fraction of PostgreSQL's NOTIFY queue in use (0 to 1)."))
    }

    /// Sets every gauge from `figures`, or marks the database down and leaves the figures as last read.
    func update(_ figures: QueueFigures?, listenerConnected connected: Bool) {
        listenerConnected.set(to: connected ? 1 : 0)
        guard let figures else {
            databaseUp.set(to: 0)
            return
        }
        databaseUp.set(to: 1)
        routingPending.set(Int64(figures.routingPending))
        routingDue.set(Int64(figures.routingDue))
        routingParked.set(Int64(figures.routingParked))
        routingOldestAge.set(figures.routingOldestPendingSeconds)
        mailPending.set(Int64(figures.mailPending))
        mailDue.set(Int64(figures.mailDue))
        mailDead.set(Int64(figures.mailDead))
        mailOldestAge.set(figures.mailOldestPendingSeconds)
        mailPaused.set(to: figures.mailPausedReason == nil ? 0 : 1)
        notificationQueueUsage.set(figures.notificationQueueUsage)
    }
}
