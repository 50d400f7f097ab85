import Foundation
import InvoiceDomain
import InvoiceStore
import Logging
import PostgresClient
import ServiceLifecycle
import Synchronization

/// The router: moves every invoice through its route, one transition per transaction.
///
/// It wakes on the work listener's hints (``wake``) and on a timer (the sweep: NOTIFY is only a
/// hint), and then drains the queue: claim one work item (invoice and item locked, SKIP LOCKED, so
/// replicas share the queue without a leader and never route one invoice at once), load the invoice's
/// state and the company structure, decide in pure Swift (``RouterDecision``), write tasks, stage,
/// audit rows and the new tasks' mails and mark the item done, all in one transaction. A failing item is
/// retried with exponential back-off and parked with its error after ``maxAttempts``; nothing is dropped.
///
/// A step costs four round trips (BEGIN, claim with state, the writes, COMMIT; five with mail, whose audit
/// rows are written with the mails just before COMMIT, so the audit chain's lock is held briefly). The
/// company structure and the stored calendar are cached between changes (``RoutingReference``). The
/// router's commits do not wait for the WAL flush (`synchronous_commit = off` on its connection): a
/// PostgreSQL crash can only undo a whole step, work item included, which is then routed again, and
/// whatever acts on a step's result (a person's decision, the mailer's claim) commits synchronously,
/// which flushes the step first. So nothing anyone saw is ever lost, and a step does not pay for a
/// disk flush (milliseconds on this machine's disk).
public struct RouterService: Service {
    /// How to connect; the login should be `invoiceflow_daemon`.
    public var configuration: PostgresConfiguration
    /// This router's name in its logs.
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
    /// Writes the new tasks' mails in the routing transaction; `nil` sends none (tests of routing alone).
    public var mail: RouterMail?
    /// How many connections route at once, each its own loop. The claim's locks (invoice, then work item,
    /// SKIP LOCKED) keep them off each other's invoices, as they keep replicas apart; two let one step's
    /// round trips overlap with another's work on the server.
    public var connections: Int
    /// Counts routed, retried and parked items for `/metrics` (none when nil).
    public var metrics: DaemonMetrics?
    private let logger: Logger
    private let reference = RoutingReferenceCache()
    private let routes = RouteVersionCache()

    /// Creates a router.
    public init(
        configuration: PostgresConfiguration, worker: String = RouterService.defaultWorker, logger: Logger,
        wake: RouterWake = RouterWake(),
        sweepInterval: Duration = .seconds(1), maxAttempts: Int = 8,
        defaultRoutes: [RouteVersion] = RouteVersion.defaults, calendar: WorkingCalendar = .russia,
        mail: RouterMail? = nil, connections: Int = RouterService.defaultConnections
    ) {
        // Kept with whatever options the operator's connection string carries.
        let options = [configuration.value(for: "options"), "-c synchronous_commit=off"].compactMap { $0 }
        self.configuration = configuration.setting("application_name", "invoiceflow-router")
            .setting("options", options.joined(separator: " "))
        self.worker = worker
        self.logger = logger
        self.wake = wake
        self.sweepInterval = sweepInterval
        self.maxAttempts = maxAttempts
        self.defaultRoutes = defaultRoutes
        self.calendar = calendar
        self.mail = mail
        self.connections = max(1, connections)
    }

    /// Two loops: measured by `scripts/bench routing` (docs in bench/routing/run).
    public static let defaultConnections = 2

    /// `router@host:pid`: names this process's router in logs.
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
        let installed = RoutesInstalled()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<connections {
                // All loops wait on the one wake-up; a hint wakes one of them, which drains the queue.
                group.addTask { await self.loop(index: index, wake: self.wake, installed: installed) }
            }
            await group.waitForAll()
        }
    }

    /// One routing connection. Loop 0 stores the default routes first; the others route only after that,
    /// or they would park every invoice whose route is not stored yet.
    private func loop(index: Int, wake: RouterWake, installed: RoutesInstalled) async {
        let loop = QueueWorkerLoop(
            configuration: configuration, wake: wake, sweepInterval: sweepInterval, logger: logger)
        await loop.run(
            failure: "router lost its database connection; reconnecting",
            metadata: ["worker": "\(worker)", "connection": "\(index)"]
        ) { live in
            if index == 0, !installed.value {
                let routes = defaultRoutes
                let stored = try await live.transaction { c in
                    // `installed` outlives this connection, so the routes must outlive a server crash:
                    // an asynchronous commit could vanish in one (RouterDatabaseRestartTests, -m immediate),
                    // and every invoice submitted after it would be parked with "no route is stored".
                    try c.execute("SET LOCAL synchronous_commit = on")
                    return try RoutingStore.installRoutes(routes, on: c)
                }
                if stored > 0 { logger.notice("default routes stored", metadata: ["routes": "\(stored)"]) }
                installed.set()
                // The other loops may be waiting for their next sweep: the queue may hold their work now.
                self.wake.signal()
            }
            guard installed.value else { return }
            let routed = try await drain(live)
            if routed > 0 { logger.debug("queue drained", metadata: ["routed": "\(routed)"]) }
        }
    }

    /// Routes work items until none is claimable; returns how many were routed. The service's loops call
    /// this after every wake-up; tests and tools call it to route what is queued now, on their connection.
    @discardableResult
    public func drain(_ connection: PostgresConnection) async throws -> Int {
        var routed = 0
        while !Task.isCancelled, try await routeOne(connection) { routed += 1 }
        return routed
    }

    /// Claims and routes one work item; false when nothing was claimable. A routing failure is recorded
    /// on the item (retry with back-off, park at the limit); only connection trouble is thrown.
    func routeOne(_ connection: PostgresConnection) async throws -> Bool {
        let worker = self.worker
        let calendar = self.calendar
        let cache = self.reference
        let routes = self.routes
        let mail = self.mail
        do {
            let item = try await connection.transaction { connection -> RoutingWorkItem? in
                let clock = Instant(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000_000))
                let known = cache.version(usableAt: clock)
                guard
                    let claimed = try RoutingStore.next(
                        worker: worker, knownVersion: known, routes: routes, on: connection)
                else {
                    return nil
                }
                let item = claimed.item
                do {
                    try Self.route(claimed, calendar: calendar, cache: cache, mail: mail, on: connection)
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
                metrics?.routed()
                logger.debug(
                    "routed",
                    metadata: ["work_item": "\(item.id)", "invoice": "\(item.invoiceID)", "event": "\(item.kind)"])
            }
            return item != nil
        } catch let failure as ClaimedRoutingError {
            try await recordFailure(RoutingFailure(item: failure.item, message: failure.message), on: connection)
            return true
        } catch let failure as RoutingFailure {
            try await recordFailure(failure, on: connection)
            return true
        }
    }

    /// Decides a claimed item and writes the decision, its mails and the item's completion.
    static func route(
        _ claimed: ClaimedRouting, calendar base: WorkingCalendar, cache: RoutingReferenceCache, mail: RouterMail?,
        on connection: isolated PostgresConnection
    ) throws {
        let state = claimed.state
        if let fresh = claimed.reference { cache.store(fresh) }
        var reference = claimed.reference ?? cache.current
        if reference.map({ !$0.holds(at: state.now) }) ?? true {
            // Expired between the check and the claim (or the clocks disagree): read it for this item only.
            reference = try RoutingStore.reference(on: connection)
        }
        guard let reference else { return }
        let actions = try RouterDecision(
            state: state, snapshot: reference.snapshot(at: state.now),
            calendar: reference.calendarExceptions.adjusting(base)
        ).actions()
        let created = actions.compactMap { action -> NewTask? in
            if case .createTask(let task) = action { return task }
            return nil
        }
        guard let mail, !created.isEmpty else {
            try RoutingStore.applyAll(
                actions, invoiceID: claimed.item.invoiceID, workItem: claimed.item.id, on: connection)
            return
        }
        // With mail: the audit rows wait until the mails are rendered and stored (migration 0078), so the
        // audit chain's lock is held for the end of the step only.
        let applied = try RoutingStore.routeStep(
            actions, invoiceID: claimed.item.invoiceID, workItem: claimed.item.id, on: connection)
        let pairs = zip(applied.tasks, created).map { (id: $0, task: $1) }
        try mail.finishStep(try mail.notifications(for: pairs, applied: applied), on: connection)
    }

    /// Records a failed attempt in its own transaction: back-off, or parking at the limit.
    private func recordFailure(_ failure: RoutingFailure, on connection: PostgresConnection) async throws {
        let maxAttempts = self.maxAttempts
        let parked = try await connection.transaction { connection in
            try RoutingStore.recordFailure(
                of: failure.item.id, error: failure.message, maxAttempts: maxAttempts, on: connection)
        }
        metrics?.routingFailed(parked: parked)
        logger.log(
            level: parked ? .error : .warning,
            parked ? "routing failed; work item parked for an administrator" : "routing failed; will retry",
            metadata: [
                "work_item": "\(failure.item.id)", "invoice": "\(failure.item.invoiceID)",
                "attempt": "\(failure.item.attempts + 1)", "error": "\(failure.message)",
            ])
        // The item now waits out its back-off; others may be claimable.
    }
}

/// A work item whose routing failed; the transaction was rolled back.
struct RoutingFailure: Error {
    var item: RoutingWorkItem
    var message: String
}

/// The reference data one router holds between steps. Shared by its transactions, which run one at a time
/// per connection but may run on several connections; a Mutex keeps it consistent either way.
final class RoutingReferenceCache: Sendable {
    private let held = Mutex<RoutingReference?>(nil)

    /// The held reference data, if any.
    var current: RoutingReference? { held.withLock { $0 } }

    /// The version to tell the database, or `nil` (send everything) when nothing is held or it has
    /// expired by this process's clock.
    func version(usableAt moment: Instant) -> Int64? {
        held.withLock { reference in reference.flatMap { $0.validUntil > moment ? $0.version : nil } }
    }

    /// Keeps `reference` unless a newer version is held.
    func store(_ reference: RoutingReference) {
        held.withLock { held in
            if let current = held, current.version > reference.version { return }
            held = reference
        }
    }
}

/// Whether this router stored its default routes: set once by loop 0, read by every loop before routing.
final class RoutesInstalled: Sendable {
    private let stored = Mutex(false)

    /// True once the routes are stored (synchronously committed).
    var value: Bool { stored.withLock { $0 } }

    /// Records that the routes are stored.
    func set() { stored.withLock { $0 = true } }
}
