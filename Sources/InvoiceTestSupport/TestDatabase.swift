import Foundation
import Logging
import PostgresClient

/// The PostgreSQL server tests run against: named by `INVOICEFLOW_TEST_DATABASE_URL` (a libpq URL or
/// conninfo for a superuser), which `scripts/test` sets after starting a throwaway cluster.
public enum TestPostgres {
    /// The environment variable holding the server's connection string.
    public static let environmentVariable = "INVOICEFLOW_TEST_DATABASE_URL"

    /// The superuser connection to the test server (its maintenance database).
    /// - Throws: ``TestPostgresUnavailable`` when the variable is unset or invalid.
    public static func serverConfiguration() throws -> PostgresConfiguration {
        guard let conninfo = ProcessInfo.processInfo.environment[environmentVariable], !conninfo.isEmpty else {
            throw TestPostgresUnavailable(
                reason: "\(environmentVariable) is not set: run scripts/test or set \(environmentVariable) to a "
                    + "libpq connection string for a PostgreSQL superuser")
        }
        do {
            return try PostgresConfiguration(conninfo).setting("application_name", "invoiceflow-tests")
        } catch {
            throw TestPostgresUnavailable(reason: "\(environmentVariable) is invalid: \(error)")
        }
    }

    /// A logger that discards everything, for tests that do not look at logs.
    public static let silentLogger = Logger(label: "invoiceflow.tests") { _ in SwiftLogNoOpLogHandler() }

    /// Creates a fresh, uniquely named, empty database (`test_<random>`), so parallel tests never share
    /// tables. Drop it with ``TestDatabase/drop()`` or use ``withDatabase(logger:_:)``.
    public static func createDatabase(logger: Logger = silentLogger) async throws -> TestDatabase {
        let server = try serverConfiguration()
        let name = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let connection = try await PostgresConnection.connect(server, logger: logger)
        // template0: template1 may be in use by a concurrent CREATE DATABASE, which would make this fail.
        try await connection.execute("CREATE DATABASE \(identifier: name) TEMPLATE template0 ENCODING 'UTF8'")
        await connection.close()
        return TestDatabase(name: name, configuration: server.setting("dbname", name), serverConfiguration: server)
    }

    /// Runs `body` with a fresh database and drops the database afterwards, also when `body` throws.
    public static func withDatabase<T>(
        logger: Logger = silentLogger, _ body: (TestDatabase) async throws -> T
    ) async throws -> T {
        let database = try await createDatabase(logger: logger)
        do {
            let result = try await body(database)
            try await database.drop(logger: logger)
            return result
        } catch {
            try? await database.drop(logger: logger)
            throw error
        }
    }
}

/// A throwaway database on the test server.
public struct TestDatabase: Sendable {
    /// The database name, `test_<random>`.
    public let name: String
    /// Connects to this database as the test superuser.
    public let configuration: PostgresConfiguration
    /// Connects to the server's maintenance database.
    public let serverConfiguration: PostgresConfiguration

    /// A new connection to this database.
    public func connect(logger: Logger = TestPostgres.silentLogger) async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration, logger: logger)
    }

    /// Drops the database, disconnecting anyone still connected to it.
    public func drop(logger: Logger = TestPostgres.silentLogger) async throws {
        let connection = try await PostgresConnection.connect(serverConfiguration, logger: logger)
        try await connection.execute("DROP DATABASE IF EXISTS \(identifier: name) WITH (FORCE)")
        await connection.close()
    }
}

/// The test server cannot be used; the reason says what to do.
public struct TestPostgresUnavailable: Error, Sendable, CustomStringConvertible {
    /// What is missing and how to provide it.
    public var reason: String
    /// The reason.
    public var description: String { reason }
}
