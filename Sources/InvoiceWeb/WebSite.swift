import InvoiceDaemon
import Logging
import PostgresClient
import Prometheus

/// What the pages need at request time: the database, the link keys and the logger. Built once at start
/// from the daemon's context; tests build one against their own database.
public struct WebSite: Sendable {
    /// How handlers connect: the daemon's login (`invoiceflow_daemon`).
    public var database: PostgresConfiguration
    /// The daemon's configuration.
    public var settings: Configuration
    /// The keys that verify action links (the same the mailer signs with).
    public var keyring: LinkKeyring
    /// The connections of the pages; closed by ``WebServer`` when it stops.
    public let pool: PostgresPool
    /// The daemon's logger.
    public var logger: Logger
    /// What `/healthz` and `/metrics` report on.
    public var observability: WebObservability

    /// The site of a running daemon, exporting its metrics through the process-wide registry.
    public init(_ context: Daemon.Context) throws {
        self.init(
            database: Self.pageLogin(context), settings: context.settings,
            keyring: try context.settings.http.keyring(), logger: context.logger,
            observability: WebObservability(context, registry: WebObservability.bootstrapProcessMetrics()))
    }

    /// The pages act for people through `invoiceflow.acting_employee`, which the database believes only from
    /// the `invoiceflow_daemon` login. A configured URL names that login (docs/operations.md); the private
    /// cluster's own connection is its superuser, so the pages log in as the daemon there (local trust
    /// authentication admits the cluster's owner only).
    static func pageLogin(_ context: Daemon.Context) -> PostgresConfiguration {
        guard case .privateCluster = context.settings.database else { return context.database }
        return context.database.setting("user", "invoiceflow_daemon")
    }

    /// A site over `database` with `settings` and `keyring`; by default its metrics go to a registry of its
    /// own and the listener counts as connected (tests without a daemon).
    public init(
        database: PostgresConfiguration, settings: Configuration, keyring: LinkKeyring, logger: Logger,
        observability: WebObservability? = nil
    ) {
        self.database = database
        self.settings = settings
        self.keyring = keyring
        self.logger = logger
        self.observability =
            observability
            ?? WebObservability(
                registry: PrometheusCollectorRegistry(), database: database, listenerConnected: { true })
        self.pool = PostgresPool(
            configuration: database.setting("application_name", "invoiceflow-web"),
            maximumConnections: settings.poolSize, minimumConnections: 0, acquireTimeout: .seconds(10),
            logger: logger)
    }

    var store: ActionLinkStore { ActionLinkStore(pool: pool) }

    /// Every route group the server registers; observability first, so its middleware sees every route.
    public var routes: [any WebRoutes] {
        [ObservabilityRoutes(observability: observability, logger: logger), ActionLinkRoutes(site: self)]
    }
}
