import Foundation
import PostgresClient

/// The demo's printed output read from the database: each invoice's timeline from the audit log (when,
/// who, acting for whom, what, comment) and the psql commands to look around as the demo's people.
struct DemoTimeline: Sendable {
    /// A superuser's connection (reads every invoice).
    let connection: PostgresConnection

    /// A header line for the invoice and one line per audit row.
    func lines(of invoice: Int64) async throws -> [String] {
        let names = try await nameMaps()
        let card = try await connection.query(
            """
            SELECT invoice_type, amount_minor, currency, paying_subdivision_name, receiver_name, stage::text
            FROM invoiceflow.invoice_card WHERE id = \(invoice)
            """)[0]
        var lines = [
            "Invoice \(invoice) · \(try card.decode(0, as: String.self)) · "
                + Self.amount(try card.decode(1), currency: try card.decode(2)) + " · "
                + "\(try card.decode(3, as: String.self)) → \(try card.decode(4, as: String.self)) · "
                + "now \(try card.decode(5, as: String.self))"
        ]
        let rows = try await connection.query(
            """
            SELECT to_char(t.occurred_at, 'HH24:MI:SS.MS'), a.actor_employee_id, a.acting_for_employee_id,
                   coalesce(t.actor_name, ''), invoiceflow_private.action_label(t.action, 'en'), t.before ->> 'stage',
                   t.after ->> 'stage', t.comment, t.action, (t.after ->> 'assignee_id')::bigint,
                   t.after ->> 'step_key', (t.after ->> 'route_version')::int
            FROM invoiceflow.invoice_timeline AS t
            JOIN invoiceflow.audit_log AS a ON a.id = t.audit_id
            WHERE t.invoice_id = \(invoice) ORDER BY t.step
            """)
        for row in rows {
            let actorID = try row.decode(1, as: Int64?.self)
            let forWhom = try row.decode(2, as: Int64?.self).flatMap { names.employees[$0] }
            var who = try actorID.flatMap { names.employees[$0] } ?? row.decode(3)
            // On a person's row the acting-for column says whom they stood in for; on the router's
            // "task assigned" row it names the absent holder of the new task, said below with the assignee.
            if actorID != nil, let forWhom { who += " for " + forWhom }
            let action: String = try row.decode(8)
            var what = Self.label(action: action, wording: try row.decode(4), version: try row.decode(11))
            if action == "assign_task",
                let assignee = try row.decode(9, as: Int64?.self).flatMap({ names.employees[$0] })
            {
                what += ": \(try row.decode(10, as: String?.self) ?? "") → \(assignee)"
                if actorID == nil, let forWhom { what += " for \(forWhom)" }
            }
            if let before = try row.decode(5, as: String?.self), let after = try row.decode(6, as: String?.self),
                before != after
            {
                what += " (\(before) → \(after))"
            }
            if let comment = try row.decode(7, as: String?.self) { what += " — " + names.readable(comment) }
            lines.append("  \(try row.decode(0, as: String.self))  \(Self.padded(who, to: 34)) \(what)")
        }
        return lines
    }

    /// How to look around with psql as different people, and where the mail is.
    func hints(_ summary: Demo.Summary, unsentMail: Int) async throws -> [String] {
        let psql = "psql \"\(summary.conninfo)\" -c \"SET SESSION AUTHORIZATION"
        let waiting = summary.invoices.first { $0.story == "waiting_cfo" }?.id
        var task: Int64? = nil
        if let waiting {
            task = try await connection.query(
                "SELECT min(id) FROM invoiceflow.task WHERE invoice_id = \(waiting) AND outcome IS NULL"
            )[0].decode(0)
        }
        var lines = [
            "Look around as the demo's people: psql connects as the superuser, SET SESSION AUTHORIZATION becomes",
            "that person, and row-level security shows exactly what they may see.",
            "  the CFO's open tasks:",
            "    \(psql) demo_morozova; SELECT task_id, invoice_id, step_key, receiver_name, amount_minor FROM invoiceflow.my_tasks\"",
            "  an initiator's invoices and whom each waits for:",
            "    \(psql) demo_orlov; SELECT id, invoice_type, stage, waiting_for FROM invoiceflow.my_invoices\"",
            "  the CEO, asked by the scheduler to act for the CFO whose deadline passed:",
            "    \(psql) demo_sokolov; SELECT task_id, invoice_id, step_key, acting_for_name FROM invoiceflow.my_tasks\"",
            "  the treasurer's payments to make:",
            "    \(psql) demo_lebedev; SELECT task_id, invoice_id, kind, due_at FROM invoiceflow.my_tasks\"",
            "  the auditor reads every timeline (and the reporting views), writes nothing:",
            "    \(psql) demo_kovaleva; SELECT invoice_id, step, description FROM invoiceflow.invoice_timeline ORDER BY 1, 2\"",
            "  a shop assistant sees only his own draft:",
            "    \(psql) demo_kozlov; SELECT id, invoice_type, stage FROM invoiceflow.invoice_card\"",
        ]
        if let task {
            lines += [
                "  act as the CFO (with --keep-serving the router moves the invoice on at once):",
                "    \(psql) demo_morozova; SELECT invoiceflow.decide_task(\(task), 'approve')\"",
            ]
        }
        lines.append(
            "Every login role of the demo starts with \(DemoCompany.rolePrefix); docs/demo.md lists who is who.")
        let sent = try await connection.query(
            "SELECT count(*)::int FROM invoiceflow_private.mail_outbox WHERE state = 'sent'")[0].decode(0, as: Int.self)
        if let directory = summary.mailDirectory {
            var line = "Mail: \(sent) messages written as .eml files into \(directory)"
            if unsentMail > 0 { line += " (\(unsentMail) still queued)" }
            lines.append(line)
        } else {
            lines.append("Mail: \(sent) messages handed to the configured relay.")
        }
        return lines
    }

    // MARK: - Formatting

    /// The router's own audit actions have no wording in the database (it words people's actions).
    static func label(action: String, wording: String, version: Int?) -> String {
        switch action {
        case "pin_route": return "route pinned" + (version.map { " (version \($0))" } ?? "")
        case "route_step_started": return "step started"
        case "route_escalated": return "escalated (SLA overdue)"
        case "route_nobody_can_act": return "parked: nobody can act"
        case "cancel_task": return "task cancelled"
        default: return wording
        }
    }

    private struct Names {
        var employees: [Int64: String]
        var departments: [Int64: String]

        /// The router's explanations name `employee#12` and `department#3`; people read names.
        func readable(_ text: String) -> String {
            var result = text
            for (prefix, names) in [("employee#", employees), ("department#", departments)] {
                var out = ""
                var rest = Substring(result)
                while let range = rest.range(of: prefix) {
                    out += rest[..<range.lowerBound]
                    let digits = rest[range.upperBound...].prefix(while: \.isNumber)
                    if let id = Int64(digits), let name = names[id] {
                        out += name
                    } else {
                        out += rest[range.lowerBound..<range.upperBound] + digits
                    }
                    rest = rest[range.upperBound...].dropFirst(digits.count)
                }
                result = out + rest
            }
            return result
        }
    }

    private func nameMaps() async throws -> Names {
        var employees: [Int64: String] = [:]
        for row in try await connection.query("SELECT id, full_name FROM invoiceflow.employee") {
            employees[try row.decode(0)] = Self.short(try row.decode(1))
        }
        var departments: [Int64: String] = [:]
        for row in try await connection.query("SELECT id, name FROM invoiceflow.department") {
            departments[try row.decode(0)] = try row.decode(1)
        }
        return Names(employees: employees, departments: departments)
    }

    /// «Зайцева Юлия Александровна» → «Зайцева Ю. А.».
    static func short(_ fullName: String) -> String {
        let parts = fullName.split(separator: " ")
        guard parts.count == 3, let first = parts[1].first, let second = parts[2].first else { return fullName }
        return "\(parts[0]) \(first). \(second)."
    }

    /// 1840000_00 kopecks → «1 840 000.00 RUB».
    static func amount(_ minor: Int64, currency: String) -> String {
        let units = String(minor / 100)
        var grouped = ""
        for (index, digit) in units.enumerated() {
            if index > 0 && (units.count - index) % 3 == 0 { grouped += " " }
            grouped.append(digit)
        }
        let cents = minor % 100
        return "\(grouped).\(cents < 10 ? "0" : "")\(cents) \(currency)"
    }

    private static func padded(_ text: String, to width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}

extension Demo {
    /// Seconds with one decimal, for the demo's closing line and the test's report.
    public static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let tenths = (Double(seconds) + Double(attoseconds) / 1e18) * 10
        return String(format: "%.1f", tenths.rounded() / 10)
    }
}
