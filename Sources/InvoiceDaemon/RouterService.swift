import Foundation
import InvoiceDomain
import InvoiceStore
import Logging
import PostgresClient
import ServiceLifecycle

/// The router: moves every invoice through its route, one transition per transaction.
///
/// It wakes on the work listener's hints (``wake``) and on a timer (the sweep: NOTIFY is only a
/// hint), and then drains the queue: claim one work item (invoice and item locked, SKIP LOCKED, so
/// replicas share the queue without a leader and never route one invoice at once), load the invoice's
/// state and the company structure, decide in pure Swift (``RouterDecision``), write tasks, stage and
/// audit rows and mark the item done, all in one transaction. A failing item is retried with
/// exponential back-off and parked with its error after ``maxAttempts``; nothing is dropped.
public struct RouterService: Service {
    /// How to connect; the login should be `invoiceflow_daemon`.
    public var configuration: PostgresConfiguration
    /// This router's name in the work queue (`locked_by`) and in logs.
    public var worker: String
    /// Signal this to make the router look at the queue now.
    public let wake: RouterWake
    /// How often the router sweeps without a hint.
    public var sweepInterval: Duration
    /// Failed attempts after which an item is parked.
    public var maxAttempts: Int
    /// Routes stored at start for types that have none yet (the defaults compiled into the binary).
    public var defaultRoutes: [RouteVersion]
    /// The calendar SLAs and payment days count in, outside the window the database's stored
    /// calendar covers (which wins around today).
    public var calendar: WorkingCalendar
    private let logger: Logger

    /// Creates a router.
    public init(
        configuration: PostgresConfiguration, worker: String = RouterService.defaultWorker, logger: Logger,
        wake: RouterWake = RouterWake(),
        sweepInterval: Duration = .seconds(1), maxAttempts: Int = 8,
        defaultRoutes: [RouteVersion] = RouteVersion.defaults, calendar: WorkingCalendar = .russia
    ) {
        self.configuration = configuration.setting("application_name", "invoiceflow-router")
        self.worker = worker
        self.logger = logger
        self.wake = wake
        self.sweepInterval = sweepInterval
        self.maxAttempts = maxAttempts
        self.defaultRoutes = defaultRoutes
        self.calendar = calendar
    }

    /// `router@host:pid`: names this process's router in `locked_by` and logs.
    public static var defaultWorker: String {
        "router@\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Routes until graceful shutdown or cancellation. A transition in flight then rolls back; its
    /// work item stays pending for the next start or another replica.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            await self.loop()
        }
    }

    private func loop() async {
        var routesInstalled = false
        let loop = QueueWorkerLoop(
            configuration: configuration, wake: wake, sweepInterval: sweepInterval, logger: logger)
        await loop.run(
            failure: "router lost its database connection; reconnecting", metadata: ["worker": "\(worker)"]
        ) { live in
            if !routesInstalled {
                let routes = defaultRoutes
                let stored = try await live.transaction { try RoutingStore.installRoutes(routes, on: $0) }
                if stored > 0 { logger.notice("default routes stored", metadata: ["routes": "\(stored)"]) }
                routesInstalled = true
            }
            let routed = try await drain(live)
            if routed > 0 { logger.debug("queue drained", metadata: ["routed": "\(routed)"]) }
        }
    }

    /// Routes work items until none is claimable; returns how many were routed.
    @discardableResult
    func drain(_ connection: PostgresConnection) async throws -> Int {
        var routed = 0
        while !Task.isCancelled, try await routeOne(connection) { routed += 1 }
        return routed
    }

    /// Claims and routes one work item; false when nothing was claimable. A routing failure is recorded
    /// on the item (retry with back-off, park at the limit); only connection trouble is thrown.
    func routeOne(_ connection: PostgresConnection) async throws -> Bool {
        let worker = self.worker
        let calendar = self.calendar
        do {
            let item = try await connection.transaction { connection -> RoutingWorkItem? in
                guard let item = try RoutingStore.claim(worker: worker, on: connection) else { return nil }
                do {
                    let state = try RoutingStore.state(of: item.invoiceID, on: connection)
                    let snapshot = try RoutingStore.orgSnapshot(on: connection)
                    let stored = try RoutingStore.workingCalendar(adjusting: calendar, on: connection)
                    let actions = try RouterDecision(state: state, snapshot: snapshot, calendar: stored).actions()
                    try RoutingStore.apply(actions, invoiceID: item.invoiceID, workItem: item.id, on: connection)
                    return item
                } catch let error as PostgresError
                    where error.code.isTransactionRetryable || error.code.isConnectionLoss
                {
                    throw error
                } catch {
                    throw RoutingFailure(item: item, message: "\(error)")
                }
            }
            if let item {
                logger.debug(
                    "routed",
                    metadata: ["work_item": "\(item.id)", "invoice": "\(item.invoiceID)", "event": "\(item.kind)"])
            }
            return item != nil
        } catch let failure as RoutingFailure {
            let maxAttempts = self.maxAttempts
            let parked = try await connection.transaction { connection in
                try RoutingStore.recordFailure(
                    of: failure.item.id, error: failure.message, maxAttempts: maxAttempts, on: connection)
            }
            logger.log(
                level: parked ? .error : .warning,
                parked ? "routing failed; work item parked for an administrator" : "routing failed; will retry",
                metadata: [
                    "work_item": "\(failure.item.id)", "invoice": "\(failure.item.invoiceID)",
                    "attempt": "\(failure.item.attempts + 1)", "error": "\(failure.message)",
                ])
            // The item now waits out its back-off; others may be claimable.
            return true
        }
    }
}

/// A work item whose routing failed; the transaction was rolled back.
struct RoutingFailure: Error {
    var item: RoutingWorkItem
    var message: String
}
