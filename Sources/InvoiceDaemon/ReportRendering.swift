// Text forms of the bottleneck report: an aligned table for a terminal and CSV for spreadsheets.
// Pure functions of the report value, so tests check the exact output without a database.

extension BottleneckReport {
    /// The report as aligned text columns, with the bottleneck named and the overdue totals last.
    public func renderTable() -> String {
        var lines: [String] = []
        lines.append("Where invoices wait — business hours (09:00–18:00 Moscow, working days) and wall-clock hours")
        lines.append("")
        if stages.isEmpty {
            lines.append("No finished stage stays yet.")
        } else {
            let header = ["Stage", "Stays", "p50 h", "p90 h", "max h", "p50 wall h", "p90 wall h", "max wall h"]
            let body = stages.map { row in
                [
                    row.stage, String(row.stays), Self.hours(row.p50BusinessHours), Self.hours(row.p90BusinessHours),
                    Self.hours(row.maxBusinessHours), Self.hours(row.p50WallHours), Self.hours(row.p90WallHours),
                    Self.hours(row.maxWallHours),
                ]
            }
            lines += Self.align([header] + body, leftAligned: [0])
            if let worst = bottleneck {
                lines.append("")
                lines.append(
                    "Bottleneck: \(worst.stage) — 90 % of stays end within \(Self.hours(worst.p90BusinessHours)) "
                        + "business hours, the longest took \(Self.hours(worst.maxBusinessHours)).")
            }
        }
        lines.append("")
        if steps.isEmpty {
            lines.append("No decided tasks yet.")
        } else {
            let header = ["Slowest steps", "Tasks", "p50 h", "p90 h", "max h", "Slowest approver", "their p90 h"]
            let body = steps.map { row in
                [
                    row.stepKey, String(row.tasks), Self.hours(row.p50BusinessHours), Self.hours(row.p90BusinessHours),
                    Self.hours(row.maxBusinessHours), row.slowestApprover ?? "—",
                    row.slowestApproverP90BusinessHours.map(Self.hours) ?? "—",
                ]
            }
            lines += Self.align([header] + body, leftAligned: [0, 5])
        }
        lines.append("")
        lines.append(
            "SLA breaches: \(slaBreaches) (\(openSLABreaches) still open) · "
                + "paid without closing documents: \(paidWithoutDocuments)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report as one CSV table (RFC 4180, CRLF line ends): a `kind` column tells stage rows from step rows.
    public func renderCSV() -> String {
        var records: [[String]] = [
            [
                "kind", "name", "count", "p50_business_hours", "p90_business_hours", "max_business_hours",
                "p50_wall_hours", "p90_wall_hours", "max_wall_hours", "slowest_approver",
                "slowest_approver_p90_business_hours",
            ]
        ]
        for row in stages {
            records.append([
                "stage", row.stage, String(row.stays), Self.hours(row.p50BusinessHours),
                Self.hours(row.p90BusinessHours),
                Self.hours(row.maxBusinessHours), Self.hours(row.p50WallHours), Self.hours(row.p90WallHours),
                Self.hours(row.maxWallHours), "", "",
            ])
        }
        for row in steps {
            records.append([
                "step", row.stepKey, String(row.tasks), Self.hours(row.p50BusinessHours),
                Self.hours(row.p90BusinessHours),
                Self.hours(row.maxBusinessHours), "", "", "", row.slowestApprover ?? "",
                row.slowestApproverP90BusinessHours.map(Self.hours) ?? "",
            ])
        }
        return records.map { $0.map(Self.csvField).joined(separator: ",") + "\r\n" }.joined()
    }

    /// Hours with two decimals, the precision the views round to.
    static func hours(_ value: Double) -> String {
        let hundredths = Int64((value * 100).rounded())
        let sign = hundredths < 0 ? "-" : ""
        let magnitude = hundredths.magnitude
        let fraction = magnitude % 100
        return "\(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// Quotes a field when it holds a comma, quote or line break; doubles inner quotes.
    static func csvField(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacing("\"", with: "\"\"") + "\""
    }

    /// Left-aligns the named columns and right-aligns the rest (the numbers); widths count characters, so
    /// Cyrillic names line up like Latin ones.
    static func align(_ rows: [[String]], leftAligned: Set<Int>) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return leftAligned.contains(column) ? cell + padding : padding + cell
            }.joined(separator: "  ").replacing(/\s+$/, with: "")
        }
    }
}
