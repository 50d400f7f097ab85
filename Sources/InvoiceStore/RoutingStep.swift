import Foundation
import InvoiceDomain
import PostgresClient

/// The company structure and the stored working calendar as the router caches them: built once, used for
/// every item until the database's reference version changes or the clock passes ``validUntil``.
public struct RoutingReference: Sendable {
    /// The database's `routing_reference_version` when this was read.
    public var version: Int64
    /// The first moment this may differ from what the database would build (an assignment or
    /// substitution starts or ends, or the calendar window moves at midnight).
    public var validUntil: Instant
    /// The company structure; set its `moment` to the routing transaction's time before use.
    public var snapshot: OrgSnapshot
    /// The stored calendar's exceptions around today.
    public var calendarExceptions: CalendarExceptions

    /// Whether this answers for `moment` as a fresh read would.
    public func holds(at moment: Instant) -> Bool { moment < validUntil && snapshot.moment <= moment }

    /// The company structure as of `moment`.
    public func snapshot(at moment: Instant) -> OrgSnapshot {
        var copy = snapshot
        copy.moment = moment
        return copy
    }
}

/// The days of the stored working calendar that differ from the weekday rule, within a window.
public struct CalendarExceptions: Sendable, Hashable, Decodable {
    /// The first day the window covers.
    public var from: CalendarDate
    /// The last day the window covers.
    public var to: CalendarDate
    /// Weekdays that are not worked.
    public var holidays: [CalendarDate]
    /// Weekend days that are worked.
    public var workingDays: [CalendarDate]

    /// `base` with the window's days taken from the stored calendar (which wins around today).
    public func adjusting(_ base: WorkingCalendar) -> WorkingCalendar {
        let outside = { (day: CalendarDate) in day < from || to < day }
        var calendar = base
        calendar.holidays = calendar.holidays.filter(outside).union(holidays)
        calendar.transferredWorkingDays = calendar.transferredWorkingDays.filter(outside).union(workingDays)
        return calendar
    }
}

/// A claimed routing work item with everything needed to decide it.
public struct ClaimedRouting: Sendable {
    /// The item, locked until the transaction ends.
    public var item: RoutingWorkItem
    /// The invoice's routing state.
    public var state: InvoiceRoutingState
    /// Fresh reference data, when the caller's version was not current; `nil` means "yours still holds".
    public var reference: RoutingReference?
}

/// An active employee a routing mail goes to, or whose name it shows (the absent colleague a substitute
/// acts for).
public struct RoutingMailPerson: Sendable, Hashable, Decodable {
    /// The employee.
    public var id: Int64
    /// The full name.
    public var name: String
    /// The mailbox.
    public var email: String
    /// The stored mail language (`ru`, `en`), if any.
    public var locale: String?
}

/// The card's facts of an invoice as `daemon_invoice_mail_facts` returns them.
public struct RoutingMailInvoice: Sendable, Hashable, Decodable {
    /// The invoice.
    public var invoiceID: Int64
    /// The supplier's invoice number.
    public var number: String
    /// Who is paid.
    public var counterparty: String
    /// The amount in minor units.
    public var amountMinor: Int64
    /// Its ISO 4217 code.
    public var currency: String
    /// What for.
    public var purpose: String
    /// The initiator's name.
    public var initiator: String
    /// The paying subdivision's name.
    public var payingSubdivision: String

    private enum CodingKeys: String, CodingKey {
        case invoiceID = "invoice_id", number, counterparty, amountMinor = "amount_minor", currency, purpose
        case initiator, payingSubdivision = "paying_subdivision"
    }
}

/// What `daemon_route_step` wrote.
public struct AppliedRouting: Sendable, Decodable {
    /// The ids of the tasks created, in the order of the decision's `createTask` actions.
    public var tasks: [Int64]
    /// With mail: the assignees and those they act for (active people only).
    public var recipients: [RoutingMailPerson]?
    /// With mail: the invoice's facts for the mail's card.
    public var invoice: RoutingMailInvoice?
}

extension RoutingStore {
    /// Claims one routing work item and loads its state, in one round trip; adds fresh reference data
    /// unless `knownVersion` is current. `nil` when nothing is claimable. With `routes`, a route version
    /// already decoded is taken from there instead of being decoded again.
    public static func next(
        worker: String, knownVersion: Int64?, routes: RouteVersionCache? = nil,
        on connection: isolated PostgresConnection
    ) throws -> ClaimedRouting? {
        struct Reply: Decodable {
            var workItemID: Int64
            var invoiceID: Int64
            var kind: String
            var attempts: Int
            var state: Captured<InvoiceRoutingState?>
            var reference: Captured<Reference?>
        }
        struct Reference: Decodable {
            var version: Int64
            var validUntil: Int64
            var org: OrgSnapshot
            var calendar: CalendarExceptions
        }
        let text = try connection.query("SELECT invoiceflow.daemon_next_routing(\(worker), \(knownVersion))::text")
            .first?.text(0)
        guard let text else { return nil }
        // One parse: the item's identity decodes first, and whatever else cannot be read is that claimed
        // item's failure, recorded on it.
        let decoder = JSONDecoder()
        if let routes { decoder.userInfo[RouteVersionCache.userInfoKey] = routes }
        let reply = try decoder.decode(Reply.self, from: Data(text.utf8))
        let item = RoutingWorkItem(
            id: reply.workItemID, invoiceID: reply.invoiceID, kind: reply.kind, attempts: reply.attempts)
        let state: InvoiceRoutingState?
        let fresh: Reference?
        do {
            state = try reply.state.result.get()
            fresh = try reply.reference.result.get()
        } catch {
            throw ClaimedRoutingError(item: item, message: "\(error)")
        }
        guard let state else {
            throw ClaimedRoutingError(item: item, message: RoutingStoreError.unknownInvoice(item.invoiceID).description)
        }
        let reference = fresh.map {
            RoutingReference(
                version: $0.version, validUntil: Instant(microsecondsSinceEpoch: $0.validUntil), snapshot: $0.org,
                calendarExceptions: $0.calendar)
        }
        return ClaimedRouting(item: item, state: state, reference: reference)
    }

    /// Reference data read now, in the caller's transaction, for when a cached copy has expired.
    public static func reference(on connection: isolated PostgresConnection) throws -> RoutingReference {
        struct Reply: Decodable {
            var version: Int64
            var validUntil: Int64
            var org: OrgSnapshot
            var calendar: CalendarExceptions
        }
        let text = try connection.query(
            """
            SELECT pg_catalog.jsonb_build_object('version', 0, 'validUntil', 0,
                'org', invoiceflow.daemon_org_snapshot(now()), 'calendar', invoiceflow.daemon_calendar_exceptions())::text
            """
        ).first?.text(0)
        let reply = try JSONDecoder().decode(Reply.self, from: Data((text ?? "").utf8))
        // Version 0 and an expiry in the past: used for this item only, never cached.
        return RoutingReference(
            version: reply.version, validUntil: Instant(microsecondsSinceEpoch: reply.validUntil), snapshot: reply.org,
            calendarExceptions: reply.calendar)
    }

    /// Writes a whole routing decision with its audit rows and marks the item done (unless it parks), in one
    /// round trip: the step without mail (with mail, ``routeStep(_:invoiceID:workItem:on:)``).
    public static func applyAll(
        _ actions: [RoutingAction], invoiceID: Int64, workItem: Int64, on connection: isolated PostgresConnection
    ) throws {
        let json = try encodeActions(actions)
        try connection.execute(
            "SELECT invoiceflow.daemon_apply_routing(\(workItem), \(invoiceID), \(json)::jsonb, false)")
    }

    /// Applies a routing decision like ``applyAll(_:invoiceID:workItem:on:)``, returning what the new tasks'
    /// mails need (their ids, the recipients, the invoice's facts), but keeps its audit rows for
    /// `daemon_finish_step`, which the caller must run before COMMIT (the database refuses the COMMIT
    /// otherwise): the audit chain's lock, taken by the first audit row and held to COMMIT, is then held for
    /// the end of the step only, not while its mails are rendered (migration 0078).
    public static func routeStep(
        _ actions: [RoutingAction], invoiceID: Int64, workItem: Int64, on connection: isolated PostgresConnection
    ) throws -> AppliedRouting {
        let json = try encodeActions(actions)
        let text = try connection.query(
            "SELECT invoiceflow.daemon_route_step(\(workItem), \(invoiceID), \(json)::jsonb)::text"
        ).first?.text(0)
        return try JSONDecoder().decode(AppliedRouting.self, from: Data((text ?? "{\"tasks\":[]}").utf8))
    }

    /// The JSON array `daemon_apply_routing` reads, written directly: the note's detail is JSON already, and
    /// JSONSerialization (parse, then write again) was a fifth of the router's CPU per step.
    static func encodeActions(_ actions: [RoutingAction]) throws -> String {
        var objects: [String] = []
        objects.reserveCapacity(actions.count)
        for action in actions {
            switch action {
            case .pinRoute(let version): objects.append(#"{"op":"pin","version":\#(version)}"#)
            case .cancelTask(let id, let reason):
                objects.append(#"{"op":"cancel","task":\#(id),"reason":\#(JSONText.quoted(reason))}"#)
            case .createTask(let task):
                var object =
                    #"{"op":"task","step":\#(JSONText.quoted(task.stepKey)),"kind":\#(JSONText.quoted(task.kind.rawValue)),"#
                    + #""assignee":\#(task.assignee.rawValue)"#
                if let actingFor = task.actingFor { object += #","actingFor":\#(actingFor.rawValue)"# }
                if let due = task.dueAt { object += #","dueAt":\#(due.microsecondsSinceEpoch)"# }
                objects.append(object + "}")
            case .setStage(let stage): objects.append(#"{"op":"stage","stage":\#(JSONText.quoted(stage.rawValue))}"#)
            case .note(let action, let detailJSON, let comment):
                // The detail is JSON the decision encoded; were it broken, PostgreSQL would refuse the array
                // (22P02) and this item alone would fail and be retried.
                var object = #"{"op":"note","action":\#(JSONText.quoted(action)),"detail":\#(detailJSON)"#
                if let comment { object += #","comment":\#(JSONText.quoted(comment))"# }
                objects.append(object + "}")
            case .park(let reason): objects.append(#"{"op":"park","reason":\#(JSONText.quoted(reason))}"#)
            }
        }
        return "[" + objects.joined(separator: ",") + "]"
    }
}

/// Captures a value's decoding failure instead of throwing it, so one document decodes in one parse and
/// the caller decides what a failure of that part means.
struct Captured<Value: Decodable>: Decodable {
    var result: Result<Value, any Error>

    init(from decoder: any Decoder) throws {
        do {
            result = .success(try Value(from: decoder))
        } catch {
            result = .failure(error)
        }
    }
}

/// JSON text written by hand where building and serializing Foundation objects costs too much.
public enum JSONText {
    /// `text` as a JSON string literal.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A claimed item whose state could not be loaded; the router records it as a failed attempt.
public struct ClaimedRoutingError: Error, Sendable, CustomStringConvertible {
    /// The claimed item.
    public var item: RoutingWorkItem
    /// Why, for logs and the work item's last error.
    public var message: String

    /// Creates the error.
    public init(item: RoutingWorkItem, message: String) {
        self.item = item
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
