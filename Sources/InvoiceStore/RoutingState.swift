import Foundation
import InvoiceDomain
import PostgresClient
import Synchronization

/// What a task asks of its assignee, as the database names it (`invoiceflow.task_kind`).
public enum TaskKind: String, Sendable, Hashable, Codable {
    /// Approve or reject a step.
    case approve
    /// Pay the invoice.
    case pay
    /// Collect the closing documents (the domain's `collectClosingDocuments`).
    case collectDocuments = "collect_documents"

    /// The database kind of a route step's kind.
    public init(_ kind: StepKind) {
        switch kind {
        case .approve: self = .approve
        case .pay: self = .pay
        case .collectClosingDocuments: self = .collectDocuments
        }
    }
}

/// How a task ended (`invoiceflow.task_outcome`); a task without an outcome is open.
public enum TaskOutcome: String, Sendable, Hashable, Codable {
    /// Approved.
    case approved
    /// Approved with a remark; counts as an approval.
    case approvedWithRemarks = "approved_with_remarks"
    /// Rejected: the invoice went back to its initiator.
    case rejected
    /// Handed to someone else, whose new task carries on.
    case delegated
    /// Closed by a rejection, withdrawal, return, or because its step was already decided.
    case cancelled
    /// Payment or collection finished.
    case done

    /// Whether the outcome counts as an approval.
    public var isApproval: Bool { self == .approved || self == .approvedWithRemarks }
}

/// One task of an invoice as the router sees it.
public struct RoutedTask: Sendable, Hashable, Codable {
    /// The task id.
    public var id: Int64
    /// The route step it belongs to.
    public var stepKey: String
    /// What it asks for.
    public var kind: TaskKind
    /// Who must act.
    public var assignee: EmployeeID
    /// The absent holder the assignee substitutes for.
    public var actingFor: EmployeeID?
    /// How it ended; `nil` while open.
    public var outcome: TaskOutcome?
    /// Who decided.
    public var decidedBy: EmployeeID?
    /// For whom the decider acted.
    public var decidedFor: EmployeeID?
    /// When the router created it.
    public var createdAt: Instant

    /// Whether the task still waits for its assignee.
    public var isOpen: Bool { outcome == nil }
    /// The person who acted (or must act) on it.
    public var actor: EmployeeID { decidedBy ?? assignee }
    /// The position holder the task's slot belongs to: whoever was acted for, else the actor.
    public var holder: EmployeeID { decidedFor ?? actingFor ?? actor }

    private enum CodingKeys: String, CodingKey {
        case id, stepKey, kind, assignee, actingFor, outcome, decidedBy, decidedFor, createdAt
    }

    /// Creates a task record (tests build states by hand).
    public init(
        id: Int64, stepKey: String, kind: TaskKind, assignee: EmployeeID, actingFor: EmployeeID? = nil,
        outcome: TaskOutcome? = nil, decidedBy: EmployeeID? = nil, decidedFor: EmployeeID? = nil, createdAt: Instant
    ) {
        self.id = id
        self.stepKey = stepKey
        self.kind = kind
        self.assignee = assignee
        self.actingFor = actingFor
        self.outcome = outcome
        self.decidedBy = decidedBy
        self.decidedFor = decidedFor
        self.createdAt = createdAt
    }

    /// Decodes the JSON of `daemon_routing_state` (times as epoch microseconds).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int64.self, forKey: .id)
        stepKey = try c.decode(String.self, forKey: .stepKey)
        kind = try c.decode(TaskKind.self, forKey: .kind)
        assignee = try c.decode(EmployeeID.self, forKey: .assignee)
        actingFor = try c.decodeIfPresent(EmployeeID.self, forKey: .actingFor)
        outcome = try c.decodeIfPresent(TaskOutcome.self, forKey: .outcome)
        decidedBy = try c.decodeIfPresent(EmployeeID.self, forKey: .decidedBy)
        decidedFor = try c.decodeIfPresent(EmployeeID.self, forKey: .decidedFor)
        createdAt = Instant(microsecondsSinceEpoch: try c.decode(Int64.self, forKey: .createdAt))
    }

    /// Encodes the form `init(from:)` reads.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(stepKey, forKey: .stepKey)
        try c.encode(kind, forKey: .kind)
        try c.encode(assignee, forKey: .assignee)
        try c.encodeIfPresent(actingFor, forKey: .actingFor)
        try c.encodeIfPresent(outcome, forKey: .outcome)
        try c.encodeIfPresent(decidedBy, forKey: .decidedBy)
        try c.encodeIfPresent(decidedFor, forKey: .decidedFor)
        try c.encode(createdAt.microsecondsSinceEpoch, forKey: .createdAt)
    }
}

/// Everything the router reads about one invoice to decide its next transition, loaded in the
/// routing transaction by `invoiceflow.daemon_routing_state`.
public struct InvoiceRoutingState: Sendable, Hashable, Decodable {
    /// The database's transaction time: the router's "now" (snapshot moment, SLA start).
    public var now: Instant
    /// The invoice id.
    public var invoiceID: Int64
    /// The invoice type.
    public var type: InvoiceTypeCode
    /// The current stage.
    public var stage: InvoiceStage
    /// The route version the invoice is pinned to; `nil` before its first routing.
    public var pinnedVersion: Int?
    /// The pinned route, or the type's current route while not pinned; `nil` when none is stored.
    public var route: RouteVersion?
    /// The routing facts.
    public var facts: InvoiceFacts
    /// When the current stage began: tasks created since then belong to the current round.
    public var roundStartedAt: Instant
    /// The latest payment date, once paid.
    public var paidOn: CalendarDate?
    /// Every task of the invoice, in id order.
    public var tasks: [RoutedTask]

    /// Creates a state (tests build states by hand).
    public init(
        now: Instant, invoiceID: Int64, stage: InvoiceStage, pinnedVersion: Int?, route: RouteVersion?,
        facts: InvoiceFacts, roundStartedAt: Instant, paidOn: CalendarDate? = nil, tasks: [RoutedTask]
    ) {
        self.now = now
        self.invoiceID = invoiceID
        self.type = facts.type
        self.stage = stage
        self.pinnedVersion = pinnedVersion
        self.route = route
        self.facts = facts
        self.roundStartedAt = roundStartedAt
        self.paidOn = paidOn
        self.tasks = tasks
    }

    private enum CodingKeys: String, CodingKey {
        case now, invoiceID, type, stage, pinnedVersion, route, amountMinor, currency, prepaymentPercent, urgent
        case customs, outsideBudget, goodsReceived, intercompany, newCounterparty, initiator, initiatorDepartment
        case payingSubdivision, receivingSubdivision, roundStartedAt, paidOn, tasks
    }

    /// Decodes the JSON of `daemon_routing_state`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        now = Instant(microsecondsSinceEpoch: try c.decode(Int64.self, forKey: .now))
        invoiceID = try c.decode(Int64.self, forKey: .invoiceID)
        type = try c.decode(InvoiceTypeCode.self, forKey: .type)
        stage = try c.decode(InvoiceStage.self, forKey: .stage)
        pinnedVersion = try c.decodeIfPresent(Int.self, forKey: .pinnedVersion)
        route = try Self.decodeRoute(c, cache: decoder.userInfo[RouteVersionCache.userInfoKey] as? RouteVersionCache)
        let code = try c.decode(String.self, forKey: .currency)
        guard let currency = CurrencyCode(code) else {
            throw DecodingError.dataCorruptedError(forKey: .currency, in: c, debugDescription: "bad currency \(code)")
        }
        var flags: Set<InvoiceFlag> = []
        let flagKeys: [(CodingKeys, InvoiceFlag)] = [
            (.urgent, .urgent), (.outsideBudget, .outsideBudget), (.goodsReceived, .goodsReceived),
            (.intercompany, .intercompany), (.newCounterparty, .newCounterparty), (.customs, .customs),
        ]
        for (key, flag) in flagKeys where try c.decode(Bool.self, forKey: key) { flags.insert(flag) }
        let department = try c.decodeIfPresent(DepartmentID.self, forKey: .initiatorDepartment)
        facts = InvoiceFacts(
            type: type,
            amount: Money(minorUnits: try c.decode(Int64.self, forKey: .amountMinor), currency: currency),
            flags: flags,
            prepaymentBasisPoints: try c.decode(Int.self, forKey: .prepaymentPercent) * 100,
            initiator: try c.decode(EmployeeID.self, forKey: .initiator),
            // Every command-created invoice has one; 0 names no department, so selectors find nobody
            // and resolution escalates or parks rather than guessing.
            initiatorDepartment: department ?? DepartmentID(0),
            payingSubdivision: try c.decode(SubdivisionID.self, forKey: .payingSubdivision),
            receivingSubdivision: try c.decodeIfPresent(SubdivisionID.self, forKey: .receivingSubdivision))
        roundStartedAt = Instant(microsecondsSinceEpoch: try c.decode(Int64.self, forKey: .roundStartedAt))
        paidOn = try c.decodeIfPresent(CalendarDate.self, forKey: .paidOn)
        tasks = try c.decode([RoutedTask].self, forKey: .tasks)
    }

    /// The tasks of the current round (created since the current stage began).
    public var currentRoundTasks: [RoutedTask] { tasks.filter { $0.createdAt >= roundStartedAt } }

    /// Approval tasks of earlier rounds (before the last resubmission).
    public var earlierApprovalTasks: [RoutedTask] {
        tasks.filter { $0.createdAt < roundStartedAt && $0.kind == .approve }
    }
}

/// A routing work item claimed for the current transaction.
public struct RoutingWorkItem: Sendable, Hashable {
    /// The work item id.
    public var id: Int64
    /// The invoice it concerns.
    public var invoiceID: Int64
    /// The event that queued it (`submitted`, `task_decided`, …); the router decides from the state,
    /// so this is for logs only.
    public var kind: String
    /// Failed attempts so far.
    public var attempts: Int
}

/// The router's reads and writes, each a call of an `invoiceflow.daemon_*` function, to run inside the
/// routing transaction on a connection logged in as `invoiceflow_daemon`.
public enum RoutingStore {
    /// Claims one routing work item (invoice and item locked until the transaction ends), or `nil` when
    /// nothing is claimable.
    public static func claim(worker: String, on connection: isolated PostgresConnection) throws -> RoutingWorkItem? {
        let rows = try connection.query(
            "SELECT work_item_id, invoice_id, kind, attempts FROM invoiceflow.daemon_claim_routing(\(worker))")
        guard let row = rows.first else { return nil }
        return RoutingWorkItem(
            id: try row.decode("work_item_id"), invoiceID: try row.decode("invoice_id"), kind: try row.decode("kind"),
            attempts: try row.decode("attempts"))
    }

    /// The routing state of an invoice.
    public static func state(of invoiceID: Int64, on connection: isolated PostgresConnection) throws
        -> InvoiceRoutingState
    {
        let json = try connection.query("SELECT invoiceflow.daemon_routing_state(\(invoiceID))").first?.text(0)
        guard let json else { throw RoutingStoreError.unknownInvoice(invoiceID) }
        return try JSONDecoder().decode(InvoiceRoutingState.self, from: Data(json.utf8))
    }

    /// The company structure as of the transaction's time.
    public static func orgSnapshot(on connection: isolated PostgresConnection) throws -> OrgSnapshot {
        let json = try connection.query("SELECT invoiceflow.daemon_org_snapshot(now())").first?.text(0) ?? "{}"
        return try JSONDecoder().decode(OrgSnapshot.self, from: Data(json.utf8))
    }

    /// `base` with the days around today taken from the stored working calendar (`set_working_day`
    /// edits, decrees), so SLAs and payment days follow what an administrator changed.
    public static func workingCalendar(adjusting base: WorkingCalendar, on connection: isolated PostgresConnection)
        throws -> WorkingCalendar
    {
        struct Exceptions: Decodable {
            var from: CalendarDate
            var to: CalendarDate
            var holidays: [CalendarDate]
            var workingDays: [CalendarDate]
        }
        let json = try connection.query("SELECT invoiceflow.daemon_calendar_exceptions()").first?.text(0) ?? ""
        let stored = try JSONDecoder().decode(Exceptions.self, from: Data(json.utf8))
        let outside = { (day: CalendarDate) in day < stored.from || stored.to < day }
        var calendar = base
        calendar.holidays = calendar.holidays.filter(outside).union(stored.holidays)
        calendar.transferredWorkingDays = calendar.transferredWorkingDays.filter(outside).union(stored.workingDays)
        return calendar
    }

    /// Stores each route as the first version of its type when the type has no route yet; returns how
    /// many were stored. Idempotent, so every daemon start may call it.
    @discardableResult
    public static func installRoutes(_ routes: [RouteVersion], on connection: isolated PostgresConnection) throws
        -> Int
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(routes), as: UTF8.self)
        return try connection.query("SELECT invoiceflow.daemon_install_routes(\(json)::jsonb)")[0].decode(0)
    }

    /// Writes a routing decision: pins, task cancellations and creations, stage moves and audit notes,
    /// in order, then marks the work item done (or parked). Call inside the claiming transaction.
    public static func apply(
        _ actions: [RoutingAction], invoiceID: Int64, workItem: Int64, on connection: isolated PostgresConnection
    ) throws {
        var parked = false
        for action in actions {
            switch action {
            case .pinRoute(let version):
                try connection.execute("SELECT invoiceflow.daemon_pin_route(\(invoiceID), \(version)::integer)")
            case .cancelTask(let id, let reason):
                try connection.execute("SELECT invoiceflow.daemon_cancel_task(\(id), \(reason))")
            case .createTask(let task):
                let due = task.dueAt.map { Double($0.microsecondsSinceEpoch) / 1_000_000 }
                try connection.execute(
                    """
                    SELECT invoiceflow.daemon_create_task(\(invoiceID), \(task.stepKey), \(task.kind.rawValue),
                        \(task.assignee.rawValue), \(task.actingFor?.rawValue), to_timestamp(\(due)))
                    """)
            case .setStage(let stage):
                try connection.execute("SELECT invoiceflow.daemon_set_stage(\(invoiceID), \(stage.rawValue))")
            case .note(let action, let detailJSON, let comment):
                try connection.execute(
                    "SELECT invoiceflow.daemon_note_routing(\(invoiceID), \(action), \(detailJSON)::jsonb, \(comment))")
            case .park(let reason):
                try connection.execute("SELECT invoiceflow.daemon_park_routing(\(workItem), \(reason))")
                parked = true
            }
        }
        if !parked {
            try connection.execute("SELECT invoiceflow.daemon_complete_routing(\(workItem))")
        }
    }

    /// Records a failed routing attempt in its own transaction: back-off, and parking after
    /// `maxAttempts`. Returns whether the item was parked.
    public static func recordFailure(
        of workItem: Int64, error: String, maxAttempts: Int, on connection: isolated PostgresConnection
    ) throws -> Bool {
        try connection.query("SELECT invoiceflow.daemon_fail_routing(\(workItem), \(error), \(maxAttempts)::integer)")[
            0
        ]
        .decode(0)
    }
}

/// A task the router creates.
public struct NewTask: Sendable, Hashable {
    /// The route step.
    public var stepKey: String
    /// What it asks for.
    public var kind: TaskKind
    /// Who must act.
    public var assignee: EmployeeID
    /// The absent holder the assignee substitutes for.
    public var actingFor: EmployeeID?
    /// When it is overdue.
    public var dueAt: Instant?

    /// Creates a task description.
    public init(stepKey: String, kind: TaskKind, assignee: EmployeeID, actingFor: EmployeeID?, dueAt: Instant?) {
        self.stepKey = stepKey
        self.kind = kind
        self.assignee = assignee
        self.actingFor = actingFor
        self.dueAt = dueAt
    }
}

/// One write of a routing decision.
public enum RoutingAction: Sendable, Hashable {
    /// Pin the invoice to this route version (first routing only).
    case pinRoute(Int)
    /// Close an open task as cancelled, with the reason.
    case cancelTask(Int64, reason: String)
    /// Create a task.
    case createTask(NewTask)
    /// Move the invoice forward.
    case setStage(InvoiceStage)
    /// An audit row explaining a decision: `route_<something>`, details as a JSON object, a comment.
    case note(action: String, detailJSON: String, comment: String?)
    /// Park the work item for an administrator, with the reason (nothing else is written after it).
    case park(reason: String)
}

/// The store could not load what the router needs.
public enum RoutingStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No invoice has this id.
    case unknownInvoice(Int64)

    /// A sentence for logs and the work item's last error.
    public var description: String {
        switch self {
        case .unknownInvoice(let id): return "invoice \(id) does not exist"
        }
    }
}

extension InvoiceRoutingState {
    private enum RouteIdentityKeys: String, CodingKey { case type, version }

    /// The route, decoded once per (type, version) when a cache is given: stored versions never change
    /// (route_version refuses UPDATE and DELETE), and decoding a whole route was a third of the router's
    /// JSON work per step.
    private static func decodeRoute(_ c: KeyedDecodingContainer<CodingKeys>, cache: RouteVersionCache?) throws
        -> RouteVersion?
    {
        guard let cache, try c.contains(.route) && !c.decodeNil(forKey: .route) else {
            return try c.decodeIfPresent(RouteVersion.self, forKey: .route)
        }
        let identity = try c.nestedContainer(keyedBy: RouteIdentityKeys.self, forKey: .route)
        let key = RouteVersionCache.Key(
            type: try identity.decode(String.self, forKey: .type),
            version: try identity.decode(Int.self, forKey: .version))
        if let known = cache.route(key) { return known }
        let route = try c.decode(RouteVersion.self, forKey: .route)
        cache.store(route, for: key)
        return route
    }
}

/// Routes as the router has decoded them, by type and version, for one database (a router's lifetime).
public final class RouteVersionCache: Sendable {
    /// A stored route version's identity.
    public struct Key: Hashable, Sendable {
        /// The invoice type's code.
        public var type: String
        /// The version number.
        public var version: Int

        /// The identity of version `version` of type `type`'s route.
        public init(type: String, version: Int) {
            self.type = type
            self.version = version
        }
    }

    /// Where `InvoiceRoutingState` finds the cache while decoding.
    public static let userInfoKey = CodingUserInfoKey(rawValue: "invoiceflow.routeVersionCache")!

    private let routes = Mutex<[Key: RouteVersion]>([:])

    /// An empty cache.
    public init() {}

    /// The decoded route, if held.
    public func route(_ key: Key) -> RouteVersion? { routes.withLock { $0[key] } }

    /// Keeps a decoded route.
    public func store(_ route: RouteVersion, for key: Key) { routes.withLock { $0[key] = route } }
}
