import InvoiceDaemon
import Metrics
import PostgresClient
import Prometheus
import Synchronization

/// What `/healthz` and `/metrics` report on: the Prometheus registry every metric of the process lands in,
/// the daemon's event counters, the listener's state and the database to read queue figures from.
///
/// One per daemon; tests make their own with a fresh registry, so nothing here needs the process-wide
/// `MetricsSystem` (which can be bootstrapped only once per process).
public struct WebObservability: Sendable {
    /// Where every metric of this daemon is registered and exported from.
    public let registry: PrometheusCollectorRegistry
    /// The router's and mailer's counters, created in ``registry``.
    public let daemon: DaemonMetrics
    /// Whether the daemon's LISTEN connection is up.
    public let listenerConnected: @Sendable () -> Bool
    /// How `/healthz` and `/metrics` reach the database: the daemon's login with short timeouts, so a
    /// hung server fails the check instead of hanging the scrape.
    public let database: PostgresConfiguration
    /// The HTTP request counters, shared by every route.
    let http: HTTPRequestMetrics
    /// The scrape-time gauges.
    let queue: QueueGauges
    /// Whether the last check reached the database, so only a change is logged above debug.
    let databaseReachable = SharedFlag(true)

    /// An observability over `registry` for a daemon on `database`.
    ///
    /// - Parameters:
    ///   - daemon: the counters the router and the mailer increment; by default new ones in `registry`.
    ///   - checkTimeout: the most a health check or a scrape waits for the database, to connect and to answer.
    public init(
        registry: PrometheusCollectorRegistry, database: PostgresConfiguration, daemon: DaemonMetrics? = nil,
        listenerConnected: @escaping @Sendable () -> Bool, checkTimeout: Duration = .seconds(2)
    ) {
        self.registry = registry
        self.daemon = daemon ?? DaemonMetrics(factory: PrometheusMetricsFactory(registry: registry))
        self.listenerConnected = listenerConnected
        self.database = Self.bounded(database, timeout: checkTimeout)
        self.http = HTTPRequestMetrics(registry: registry)
        self.queue = QueueGauges(registry: registry)
    }

    /// The observability of a running daemon: its counters, its listener and its database, exported
    /// through `registry` (the process-wide one, ``bootstrapProcessMetrics()``, in `invoiceflow serve`).
    public init(_ context: Daemon.Context, registry: PrometheusCollectorRegistry) {
        self.init(
            registry: registry, database: context.database, daemon: context.metrics,
            listenerConnected: context.listenerConnected)
    }

    /// `database` with a connect timeout and a statement timeout of `timeout` (at least one second, as
    /// libpq counts whole seconds), keeping any server options already set.
    static func bounded(_ database: PostgresConfiguration, timeout: Duration) -> PostgresConfiguration {
        let seconds = max(1, timeout.components.seconds)
        var options = database.value(for: "options") ?? ""
        if !options.isEmpty { options += " " }
        options += "-c statement_timeout=\(seconds * 1000)"
        return database.setting("connect_timeout", "\(seconds)").setting("options", options)
            .setting("application_name", "invoiceflow-health")
    }

    /// A flag shared by every copy of the observability.
    final class SharedFlag: Sendable {
        private let value: Atomic<Bool>
        init(_ initial: Bool) { value = Atomic(initial) }
        /// Sets the flag; returns what it was.
        func exchange(_ new: Bool) -> Bool {
            value.exchange(new, ordering: .relaxed)
        }
    }

    private static let bootstrapped = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Makes the Prometheus registry the process-wide swift-metrics backend and returns it; later calls return
    /// the same registry without bootstrapping again (`MetricsSystem.bootstrap` traps on a second call). Call it
    /// once at start-up, before any library creates its metrics.
    public static func bootstrapProcessMetrics() -> PrometheusCollectorRegistry {
        bootstrapped.withLock { registry in
            if let registry { return registry }
            let created = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: created))
            registry = created
            return created
        }
    }
}
