import InvoiceDaemon
import Logging
import PostgresClient

/// What the pages need at request time: the database, the link signer and the public URL. Built once
/// at start from the daemon's context; tests build one against their own database.
public struct WebSite: Sendable {
    /// How handlers connect: the daemon's login (`invoiceflow_daemon`).
    public var database: PostgresConfiguration
    /// The daemon's configuration.
    public var settings: Configuration
    /// The daemon's logger.
    public var logger: Logger

    /// The site of a running daemon.
    public init(_ context: Daemon.Context) throws {
        self.init(database: context.database, settings: context.settings, logger: context.logger)
    }

    /// A site over `database` with `settings`.
    public init(database: PostgresConfiguration, settings: Configuration, logger: Logger) {
        self.database = database
        self.settings = settings
        self.logger = logger
    }

    /// Every route group the server registers.
    public var routes: [any WebRoutes] {
        [ObservabilityRoutes(site: self)]
    }
}
