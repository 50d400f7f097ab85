import ArgumentParser
import Foundation
import InvoiceDaemon
import InvoiceStore
import InvoiceWeb
import Logging
import PostgresClient

@main
struct InvoiceFlowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoiceflow",
        abstract: "Invoice approval and payment on PostgreSQL.",
        discussion: """
            Configuration comes from INVOICEFLOW_* environment variables and, optionally, a file of KEY=value
            lines (--config or INVOICEFLOW_CONFIG). With no INVOICEFLOW_DATABASE_URL, a private PostgreSQL
            cluster is started under the data directory (INVOICEFLOW_DATA_DIR, default ./var).
            """,
        version: InvoiceFlowVersion.current,
        subcommands: [
            Serve.self, Migrate.self, Demo.self, Routes.self, Audit.self, Report.self, Mail.self, ConfigCommand.self,
            Version.self,
        ],
        defaultSubcommand: Serve.self
    )
}

/// Options every subcommand that reads the configuration shares.
struct SharedOptions: ParsableArguments {
    @Option(name: .long, help: "A configuration file of INVOICEFLOW_KEY=value lines.")
    var config: String?

    /// Reads and validates the configuration and sets up logging; exits with a message naming the bad key.
    func start(label: String) throws -> (Configuration, Logger) {
        let settings: Configuration
        do {
            settings = try Configuration.load(file: config)
        } catch {
            throw ValidationError(error.description)
        }
        LogOutput.bootstrap(format: settings.logFormat, level: settings.logLevel)
        return (settings, Logger(label: label))
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: migrate, listen for work, serve until SIGTERM or Ctrl-C.")

    @OptionGroup var options: SharedOptions

    func run() async throws {
        let (settings, logger) = try options.start(label: "invoiceflow")
        // Before the daemon makes its counters: they bind to the metrics backend bootstrapped at that moment.
        _ = WebObservability.bootstrapProcessMetrics()
        try await Daemon.serve(settings, logger: logger, services: WebServer.services)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending schema migrations, each in its own transaction, and exit.")

    @OptionGroup var options: SharedOptions

    func run() async throws {
        let (settings, logger) = try options.start(label: "invoiceflow.migrate")
        let database = try await DatabaseBootstrap.start(settings, logger: logger)
        do {
            let report = try await database.migrate(logger: logger)
            await database.stop(logger: logger)
            if report.applied.isEmpty {
                print("schema is up to date (\(report.alreadyApplied) migrations applied earlier)")
            } else {
                print("applied \(report.applied.count) migrations: \(report.applied.joined(separator: ", "))")
            }
        } catch {
            await database.stop(logger: logger)
            print("migrate failed: \(error)", to: &standardError)
            throw ExitCode.failure
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the version of InvoiceFlow, its libraries and the schema it carries.")

    func run() throws {
        print("invoiceflow \(InvoiceFlowVersion.current)")
        print("libpq \(libpqVersion / 10000).\(libpqVersion % 10000)")
        // The newest embedded migration: what `migrate` brings a database to; the fingerprint lets the scripts
        // compare the embedded files with sql/migrations (InvoiceSchema.fingerprint).
        let migrations = try InvoiceSchema.migrations()
        let newest = migrations.last.map { String($0.fileName.dropLast(".sql".count)) } ?? "none"
        print("schema \(newest) (\(migrations.count) migrations, fingerprint \(InvoiceSchema.embeddedFingerprint))")
    }
}

/// Standard error as a `TextOutputStream`, for messages of the command line tool.
nonisolated(unsafe) var standardError = StandardError()

/// Writes to the process's standard error.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandle.standardError.write(Data(string.utf8))
    }
}
