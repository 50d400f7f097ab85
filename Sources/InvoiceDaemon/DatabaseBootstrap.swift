import InvoiceStore
import Logging
import PostgresClient

/// The database the daemon works on, ready to use: a configured server, or a private cluster this process
/// started and must stop.
public struct DatabaseBootstrap: Sendable {
    /// How to connect.
    public var configuration: PostgresConfiguration
    /// The private cluster this process started, if any.
    public var privateCluster: PrivateCluster?

    /// Starts the private cluster when no database is configured; uses a configured one as it is.
    public static func start(_ settings: Configuration, logger: Logger) async throws -> DatabaseBootstrap {
        switch settings.database {
        case .configured(let configuration):
            logger.info("using the configured database", metadata: ["database": "\(configuration.redacted)"])
            return DatabaseBootstrap(configuration: configuration, privateCluster: nil)
        case .privateCluster(let directory):
            let cluster = PrivateCluster(
                directory: directory, binDirectory: settings.postgresBinDirectory, logger: logger)
            let configuration = try await onDedicatedThread(named: "invoiceflow-cluster-start") {
                try cluster.start()
            }
            logger.notice(
                "private PostgreSQL cluster ready; connect with psql",
                metadata: ["data_directory": "\(directory)", "psql": "\(cluster.psqlCommand)"])
            return DatabaseBootstrap(configuration: configuration, privateCluster: cluster)
        }
    }

    /// Stops the private cluster if this process started one.
    public func stop(logger: Logger) async {
        guard let cluster = privateCluster else { return }
        do {
            try await onDedicatedThread(named: "invoiceflow-cluster-stop") { try cluster.stop() }
        } catch {
            logger.error("could not stop the private PostgreSQL cluster", metadata: ["error": "\(error)"])
        }
    }

    /// Applies pending schema migrations.
    public func migrate(logger: Logger) async throws -> MigrationReport {
        let migrator = try Migrator(migrations: try InvoiceSchema.migrations(), logger: logger)
        let connection = try await PostgresConnection.connect(
            configuration.setting("application_name", "invoiceflow-migrate"), logger: logger)
        do {
            let report = try await migrator.migrate(on: connection)
            await connection.close()
            return report
        } catch {
            await connection.close()
            throw error
        }
    }
}
