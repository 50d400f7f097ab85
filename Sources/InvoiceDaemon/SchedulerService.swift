import Foundation
import InvoiceDomain
import InvoiceStore
import Logging
import PostgresClient
import ServiceLifecycle

/// The scheduler: SLA reminders, escalations, the payment-day mail and overdue closing documents, in
/// business time (migration 0055 has the rules).
///
/// Every ``interval`` (and on each sweep wake-up) it runs a round: it lists the notices due now,
/// then handles each one in a transaction of its own — claim (invoice and task locked with SKIP
/// LOCKED, the rule re-checked), resolve whom to tell, enqueue the mail, record the notice with its
/// audit row. The record's primary key makes every notice go out once however many replicas run. A
/// timeout never rejects: an escalation tells the late person's head and, for an approval, gives the
/// head a parallel task acting for the late holder; the late task stays open.
public struct SchedulerService: Service {
    /// How to connect; the login should be `invoiceflow_daemon`.
    public var configuration: PostgresConfiguration
    /// This scheduler's name in the notice records and in logs.
    public var worker: String
    /// Signal this to make the scheduler run a round now.
    public let wake: RouterWake
    /// How often a round runs without a wake-up (`INVOICEFLOW_SCHEDULER_INTERVAL_SECONDS`).
    public var interval: Duration
    /// Notices listed per query; a round repeats the listing until nothing more can be handled.
    public var batchSize: Int
    /// The calendar SLAs count in, outside the window the stored calendar covers.
    public var calendar: WorkingCalendar
    let composer: MailComposer
    private let logger: Logger

    /// Creates a scheduler.
    public init(
        configuration: PostgresConfiguration, composer: MailComposer, worker: String = SchedulerService.defaultWorker,
        interval: Duration = .seconds(60), wake: RouterWake = RouterWake(), batchSize: Int = 100,
        calendar: WorkingCalendar = .russia, logger: Logger
    ) {
        self.configuration = configuration.setting("application_name", "invoiceflow-scheduler")
        self.composer = composer
        self.worker = worker
        self.interval = interval
        self.wake = wake
        self.batchSize = batchSize
        self.calendar = calendar
        self.logger = logger
    }

    /// `scheduler@host:pid`.
    public static var defaultWorker: String {
        "scheduler@\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Runs rounds until graceful shutdown or cancellation; a notice in flight then rolls back and is
    /// sent by the next round or another replica.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            let loop = QueueWorkerLoop(
                configuration: configuration, wake: wake, sweepInterval: interval, logger: logger)
            await loop.run(
                failure: "scheduler lost its database connection; reconnecting", metadata: ["worker": "\(worker)"]
            ) { live in
                let report = try await round(on: live)
                if report.handled > 0 {
                    logger.info(
                        "scheduler round",
                        metadata: [
                            "reminders": "\(report.reminders)", "escalations": "\(report.escalations)",
                            "payment_due": "\(report.paymentDue)", "documents_overdue": "\(report.documentsOverdue)",
                            "failed": "\(report.failed)",
                        ])
                }
            }
        }
    }

    /// What one round did.
    public struct RoundReport: Sendable, Hashable {
        /// Reminders sent to assignees at the step's reminder point.
        public var reminders = 0
        /// Overdue tasks escalated.
        public var escalations = 0
        /// Payment-day mails to payers.
        public var paymentDue = 0
        /// Overdue closing-documents notices (to collectors and to their heads).
        public var documentsOverdue = 0
        /// Notices whose handling failed (logged; tried again next round).
        public var failed = 0
        /// Everything handled.
        public var handled: Int { reminders + escalations + paymentDue + documentsOverdue }
    }

    /// Runs one round as of `now` (the database's clock when `nil`); `invoiceflow demo` and tests pass a
    /// later moment to see what the scheduler would do then. Only connection trouble is thrown.
    @discardableResult
    public func round(asOf now: Date? = nil, on connection: PostgresConnection) async throws -> RoundReport {
        let asOf: Date
        if let now {
            asOf = now
        } else {
            asOf = try await connection.query("SELECT now() AS now")[0].decode("now")
        }
        let limit = batchSize
        var report = RoundReport()
        var failedHere: Set<SchedulerNotice.Key> = []
        while !Task.isCancelled {
            let due = try await connection.query(
                "SELECT task_id, invoice_id, notice FROM invoiceflow.daemon_scheduler_due(\(asOf), \(limit)::integer)"
            ).map { row in
                SchedulerNotice.Key(
                    taskID: try row.decode("task_id"), notice: try row.decode("notice"))
            }.filter { !failedHere.contains($0) }
            var progressed = false
            for key in due where !Task.isCancelled {
                do {
                    guard let kind = try await handle(key, asOf: asOf, on: connection) else { continue }
                    progressed = true
                    switch kind {
                    case .reminder: report.reminders += 1
                    case .escalation: report.escalations += 1
                    case .paymentDue: report.paymentDue += 1
                    case .documentsOverdue, .documentsOverdueHead: report.documentsOverdue += 1
                    }
                } catch let error as PostgresError where error.code.isConnectionLoss {
                    throw error
                } catch {
                    // One bad notice must not stop the others; it is tried again next round.
                    failedHere.insert(key)
                    report.failed += 1
                    logger.error(
                        "scheduler notice failed",
                        metadata: ["task": "\(key.taskID)", "notice": "\(key.notice)", "error": "\(error)"])
                }
            }
            // Everything listed was claimed elsewhere, decided meanwhile, or failed: the next round looks again.
            if !progressed || due.count < limit { break }
        }
        return report
    }

    /// Handles one notice in its own transaction; nil when it was not claimable (another replica or a
    /// person holds it, it was decided or sent meanwhile).
    private func handle(_ key: SchedulerNotice.Key, asOf: Date, on connection: PostgresConnection) async throws
        -> SchedulerNotice.Kind?
    {
        let composer = self.composer
        let worker = self.worker
        let calendar = self.calendar
        let handled = try await connection.transaction { c -> SchedulerNotice? in
            guard let claimed = try SchedulerNotice.claim(key, asOf: asOf, on: c) else { return nil }
            try SchedulerNotice.deliver(claimed, worker: worker, composer: composer, calendar: calendar, on: c)
            return claimed
        }
        if let handled {
            logger.debug(
                "scheduler notice sent",
                metadata: [
                    "task": "\(handled.taskID)", "invoice": "\(handled.invoiceID)",
                    "notice": "\(handled.kind.rawValue)",
                ])
        }
        return handled?.kind
    }
}
