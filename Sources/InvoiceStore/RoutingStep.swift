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

/// What `daemon_apply_routing` wrote.
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
    /// unless `knownVersion` is current. `nil` when nothing is claimable.
    public static func next(worker: String, knownVersion: Int64?, on connection: isolated PostgresConnection) throws
        -> ClaimedRouting?
    {
        struct Header: Decodable {
            var workItemID: Int64
            var invoiceID: Int64
            var kind: String
            var attempts: Int
        }
        struct Body: Decodable {
            var state: InvoiceRoutingState?
            var reference: Reference?
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
        let data = Data(text.utf8)
        let header = try JSONDecoder().decode(Header.self, from: data)
        let item = RoutingWorkItem(
            id: header.workItemID, invoiceID: header.invoiceID, kind: header.kind, attempts: header.attempts)
        // The item is claimed now: whatever cannot be read is that item's failure, recorded on it.
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: data)
        } catch {
            throw ClaimedRoutingError(item: item, message: "\(error)")
        }
        guard let state = body.state else {
            throw ClaimedRoutingError(item: item, message: RoutingStoreError.unknownInvoice(item.invoiceID).description)
        }
        let reference = body.reference.map {
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

    /// Writes a whole routing decision and marks the item done (unless it parks), in one round trip.
    /// With `withMail`, also returns who the new tasks' mails go to and the invoice's facts.
    public static func applyAll(
        _ actions: [RoutingAction], invoiceID: Int64, workItem: Int64, withMail: Bool,
        on connection: isolated PostgresConnection
    ) throws -> AppliedRouting {
        let json = try encodeActions(actions)
        let text = try connection.query(
            "SELECT invoiceflow.daemon_apply_routing(\(workItem), \(invoiceID), \(json)::jsonb, \(withMail))::text"
        ).first?.text(0)
        return try JSONDecoder().decode(AppliedRouting.self, from: Data((text ?? "{\"tasks\":[]}").utf8))
    }

    /// The JSON array `daemon_apply_routing` reads.
    static func encodeActions(_ actions: [RoutingAction]) throws -> String {
        var objects: [[String: Any]] = []
        for action in actions {
            switch action {
            case .pinRoute(let version): objects.append(["op": "pin", "version": version])
            case .cancelTask(let id, let reason): objects.append(["op": "cancel", "task": id, "reason": reason])
            case .createTask(let task):
                var object: [String: Any] = [
                    "op": "task", "step": task.stepKey, "kind": task.kind.rawValue, "assignee": task.assignee.rawValue,
                ]
                if let actingFor = task.actingFor { object["actingFor"] = actingFor.rawValue }
                if let due = task.dueAt { object["dueAt"] = due.microsecondsSinceEpoch }
                objects.append(object)
            case .setStage(let stage): objects.append(["op": "stage", "stage": stage.rawValue])
            case .note(let action, let detailJSON, let comment):
                var object: [String: Any] = [
                    "op": "note", "action": action,
                    "detail": try JSONSerialization.jsonObject(
                        with: Data(detailJSON.utf8), options: [.fragmentsAllowed]),
                ]
                if let comment { object["comment"] = comment }
                objects.append(object)
            case .park(let reason): objects.append(["op": "park", "reason": reason])
            }
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
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
