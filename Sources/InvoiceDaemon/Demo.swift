import Foundation
import InvoiceStore
import Logging
import PostgresClient
import ServiceLifecycle

/// `invoiceflow demo`: the daemon's real services (listener, router, mailer, scheduler) run in this process while
/// a script creates the demo company and plays ``DemoStory/scenario`` as the right people, waiting for
/// the router by watching the database; then every invoice's timeline is printed from the audit log.
///
/// People act as themselves: each employee has a login role, and the demo switches to it with
/// `SET LOCAL SESSION AUTHORIZATION` for each action, which needs a superuser (the private cluster's
/// owner; with `INVOICEFLOW_DATABASE_URL`, a superuser's URL, else ``DemoError/notSuperuser(user:)``).
/// A second run on the same database finds the demo company, plays nothing and prints its timelines
/// again; a database holding another company is refused (``DemoError/foreignCompany(subdivisions:)``).
public enum Demo {
    /// What a run did, for the command line and for tests.
    public struct Summary: Sendable {
        /// Whether this run created the company and played the scenario (false: it existed already).
        public var played: Bool
        /// Each story's invoice id and the stage it ended in, in scenario order.
        public var invoices: [(story: String, id: Int64, stage: String)]
        /// What the scheduler's round "as of" after the waiting CFO task's deadline did (nil when not played).
        public var lateRound: SchedulerService.RoundReport?
        /// How to connect to the demo's database (password, if any, redacted).
        public var conninfo: String
        /// Where the mail went, when no relay is configured.
        public var mailDirectory: String?
        /// From start-up to the last timeline printed.
        public var elapsed: Duration
    }

    /// Runs the demo, writing what a person should read to `output` line by line; with `keepServing`
    /// the services keep running after the scenario until SIGINT or SIGTERM.
    public static func run(
        _ settings: Configuration, keepServing: Bool, logger: Logger, output: @escaping @Sendable (String) -> Void
    ) async throws -> Summary {
        let started = ContinuousClock.now
        let database = try await DatabaseBootstrap.start(settings, logger: logger)
        do {
            _ = try await database.migrate(logger: logger)
            let summary = try await play(
                settings, database: database, keepServing: keepServing, started: started, logger: logger,
                output: output)
            await database.stop(logger: logger)
            return summary
        } catch {
            await database.stop(logger: logger)
            throw error
        }
    }

    private static func play(
        _ settings: Configuration, database: DatabaseBootstrap, keepServing: Bool, started: ContinuousClock.Instant,
        logger: Logger, output: @escaping @Sendable (String) -> Void
    ) async throws -> Summary {
        let people = try await PostgresConnection.connect(
            database.configuration.setting("application_name", "invoiceflow-demo"), logger: logger)
        do {
            try await DemoStage.requireSuperuser(people)
            // The services `invoiceflow serve` runs, wired the same way (Daemon.serve).
            let daemonLogin = await daemonConfiguration(database.configuration, logger: logger)
            let workers = try DaemonWorkers(
                settings: settings, database: daemonLogin, metrics: DaemonMetrics(), logger: logger)
            let group = ServiceGroup(
                configuration: .init(
                    services: workers.services.map { .init(service: $0) },
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            let stage = DemoStage(
                connection: people, company: .medtech, scheduler: workers.scheduler, daemonLogin: daemonLogin,
                logger: logger)
            // The script and the services run side by side; a signal that stops the services mid-script
            // cancels the script too, and a failing script shuts the services down.
            let summary = try await withThrowingTaskGroup(of: Summary?.self, returning: Summary.self) { tasks in
                tasks.addTask {
                    try await group.run()
                    return nil
                }
                tasks.addTask {
                    do {
                        let summary = try await stage.perform(
                            settings: settings, database: database, started: started, output: output)
                        if keepServing {
                            output("")
                            output("The daemon keeps serving; act with psql as above, stop with Ctrl-C.")
                        } else {
                            await group.triggerGracefulShutdown()
                        }
                        return summary
                    } catch {
                        await group.triggerGracefulShutdown()
                        throw error
                    }
                }
                var played: Summary?
                for try await result in tasks {
                    if let result {
                        played = result
                    } else if played == nil {
                        tasks.cancelAll()
                    }
                }
                guard let played else { throw CancellationError() }
                return played
            }
            await people.close()
            return summary
        } catch {
            await people.close()
            throw error
        }
    }

    /// The services log in as `invoiceflow_daemon` when the server lets them (the private cluster
    /// trusts local logins), so the audit log names the daemon as the actor of routing steps; otherwise
    /// they use the configured login, as `invoiceflow serve` does.
    private static func daemonConfiguration(_ configuration: PostgresConfiguration, logger: Logger) async
        -> PostgresConfiguration
    {
        let asDaemon = configuration.setting("user", "invoiceflow_daemon")
        guard let probe = try? await PostgresConnection.connect(asDaemon, logger: logger) else {
            logger.notice("cannot log in as invoiceflow_daemon; the demo's services use the configured login")
            return configuration
        }
        await probe.close()
        return asDaemon
    }
}
