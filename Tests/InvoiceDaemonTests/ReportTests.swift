import Foundation
import InvoiceStore
import InvoiceTestSupport
import PostgresClient
import Testing

@testable import InvoiceDaemon

#if canImport(FoundationXML)
    import FoundationXML
#endif

@Suite("bottleneck report: table, CSV, SVG chart, and the figures read from PostgreSQL")
struct ReportTests {
    private static let sample = BottleneckReport(
        stages: [
            .init(
                stage: "draft", stays: 2, p50BusinessHours: 2, p90BusinessHours: 2.8, maxBusinessHours: 3,
                p50WallHours: 2, p90WallHours: 2.8, maxWallHours: 3),
            .init(
                stage: "approval", stays: 2, p50BusinessHours: 18, p90BusinessHours: 25.2, maxBusinessHours: 27,
                p50WallHours: 60, p90WallHours: 88.8, maxWallHours: 96),
        ],
        steps: [
            .init(
                stepKey: "check", tasks: 2, p50BusinessHours: 18, p90BusinessHours: 25.2, maxBusinessHours: 27,
                slowestApprover: "Рита Складова", slowestApproverP90BusinessHours: 27)
        ],
        slaBreaches: 1, openSLABreaches: 0, paidWithoutDocuments: 0)

    @Test("the table aligns columns, names the bottleneck and ends with the overdue totals")
    func table() {
        let text = Self.sample.renderTable()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = lines.first { $0.hasPrefix("Stage") }
        let approval = lines.first { $0.hasPrefix("approval") }
        #expect(header == "Stage     Stays  p50 h  p90 h  max h  p50 wall h  p90 wall h  max wall h")
        #expect(approval == "approval      2  18.00  25.20  27.00       60.00       88.80       96.00")
        #expect(text.contains("Bottleneck: approval — 90 % of stays end within 25.20 business hours"))
        #expect(lines.contains("check              2  18.00  25.20  27.00  Рита Складова           27.00"))
        #expect(lines.dropLast().last == "SLA breaches: 1 (0 still open) · paid without closing documents: 0")
    }

    @Test("an empty report says so instead of printing empty tables")
    func emptyTable() {
        let text = BottleneckReport(stages: [], steps: [], slaBreaches: 0, openSLABreaches: 0, paidWithoutDocuments: 0)
            .renderTable()
        #expect(text.contains("No finished stage stays yet."))
        #expect(text.contains("No decided tasks yet."))
        #expect(!text.contains("Bottleneck"))
    }

    @Test("CSV has one header, one record per stage and step, CRLF line ends, and quotes what needs quoting")
    func csv() {
        var report = Self.sample
        report.steps[0].slowestApprover = "Иванов, \"старший\""
        let records = report.renderCSV().components(separatedBy: "\r\n")
        #expect(records.count == 5)  // header, 2 stages, 1 step, and the empty string after the last CRLF
        #expect(records[0].hasPrefix("kind,name,count,p50_business_hours,p90_business_hours,max_business_hours"))
        #expect(records[2] == "stage,approval,2,18.00,25.20,27.00,60.00,88.80,96.00,,")
        #expect(records[3] == "step,check,2,18.00,25.20,27.00,,,,\"Иванов, \"\"старший\"\"\",27.00")
        #expect(records[4] == "")
    }

    @Test(
        "hours print with two decimals",
        arguments: [(0.0, "0.00"), (2.8, "2.80"), (25.2, "25.20"), (0.005, "0.01"), (-5, "-5.00"), (1234.5, "1234.50")])
    func hours(value: Double, text: String) {
        #expect(BottleneckReport.hours(value) == text)
    }

    @Test(
        "the chart's axis ticks every 1, 2 or 5 × 10ⁿ hours and ends at or just above the longest stay",
        arguments: [
            (0.0, [0, 0.2, 0.4, 0.6, 0.8, 1]), (4.0, [0, 1, 2, 3, 4]), (27.0, [0, 10, 20, 30]),
            (9.0, [0, 2, 4, 6, 8, 10]), (120.0, [0, 50, 100, 150]), (251.0, [0, 100, 200, 300]),
            (20.0, [0, 5, 10, 15, 20]), (2473.5, [0, 500, 1000, 1500, 2000, 2500]),
        ])
    func axis(longest: Double, ticks: [Double]) {
        let axis = BottleneckReport.axis(upTo: longest)
        #expect(axis.ticks.count == ticks.count)
        for (tick, expected) in zip(axis.ticks, ticks) { #expect(abs(tick - expected) < 1e-9) }
        #expect(abs(axis.maximum - (ticks.last ?? 0)) < 1e-9)
    }

    @Test(
        "chart figures print without trailing zeros, counts with thin-space thousands",
        arguments: [
            (12.0, "12"), (12.5, "12.5"), (0.25, "0.25"), (0.6000000000000001, "0.6"), (0, "0"), (19.8, "19.8"),
        ])
    func compact(value: Double, text: String) {
        #expect(BottleneckReport.compact(value) == text)
    }

    @Test(
        "counts on the chart group thousands",
        arguments: [(0, "0"), (999, "999"), (1000, "1 000"), (1_234_567, "1 234 567")])
    func grouped(value: Int64, text: String) {
        #expect(BottleneckReport.grouped(value) == text.replacingOccurrences(of: " ", with: "\u{2009}"))
    }

    @Test("the SVG draws one median bar, one p90 bar and one whisker per stage, to scale, bottleneck in red")
    func svg() throws {
        let svg = Self.sample.renderSVG()
        #expect(svg.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<rect class=\"p50\"").count - 1 == 2)
        #expect(svg.components(separatedBy: "<rect class=\"p90\"").count - 1 == 2)
        #expect(svg.components(separatedBy: "<line class=\"max\"").count - 1 == 2)
        // Axis 0..30 h (longest 27 h) over 540 px from x = 200: the approval median (18 h) is 324 px wide and
        // red (the bottleneck), its p90 bar (25.2 h) 129.6 px more; the draft median (2 h) 36 px, blue.
        #expect(svg.contains("<rect class=\"p50\" x=\"200\" y=\"168\" width=\"324\" height=\"26\" fill=\"#c0392b\">"))
        #expect(svg.contains("<rect class=\"p90\" x=\"524\" y=\"168\" width=\"129.6\""))
        #expect(svg.contains("<rect class=\"p50\" x=\"200\" y=\"122\" width=\"36\" height=\"26\" fill=\"#2c6fbb\">"))
        #expect(svg.contains(">30</text>"))
        #expect(svg.contains(">18 · 25.2 · 27</text>"))
    }

    @Test(
        "the SVG is well-formed XML with one series per stage, whatever the number of stages",
        arguments: [0, 1, 2, 5, 12])
    func svgIsWellFormed(stageCount: Int) throws {
        let names = ["draft", "approval", "rejected", "payment", "closing_documents", "доработка «срочно» & <прочее>"]
        var report = Self.sample
        report.stages = (0..<stageCount).map { (index: Int) -> BottleneckReport.StageRow in
            let name: String = index < names.count ? names[index] : "\(names[index % names.count]) \(index)"
            let hours = Double(index)
            return BottleneckReport.StageRow(
                stage: name, stays: 1_000_000, p50BusinessHours: hours * 3.5, p90BusinessHours: hours * 9 + 1,
                maxBusinessHours: hours * 40 + 2, p50WallHours: 0, p90WallHours: 0, maxWallHours: 0)
        }
        let document = try ChartDocument(svg: report.renderSVG())
        #expect(document.root == "svg")
        #expect(document.series == stageCount)
        #expect(document.elements["rect", default: 0] >= 2 * stageCount)
        // Every stage name, Cyrillic and escaped characters included, comes back intact from the parser.
        #expect(document.seriesNames == report.stages.map(\.stage))
        // Nothing is drawn outside the canvas.
        #expect(document.maxX <= document.width)
        #expect(document.maxY <= document.height)
    }

    @Test("stage names are escaped in the SVG")
    func svgEscaping() {
        var report = Self.sample
        report.stages[0].stage = "a<b & \"c\""
        let svg = report.renderSVG()
        #expect(svg.contains("a&lt;b &amp; &quot;c&quot;"))
        #expect(!svg.contains("a<b"))
    }

    @Test("the report read from a migrated database has the figures of a known history")
    func fromDatabase() async throws {
        let database = try await TestPostgres.createDatabase()
        let connection = try await database.connect()
        let migrator = try Migrator(migrations: try InvoiceSchema.migrations(), logger: TestPostgres.silentLogger)
        _ = try await migrator.migrate(on: connection)
        try await connection.execute(script: Self.history)
        await connection.close()

        let report = try await BottleneckReport.load(database.configuration, logger: TestPostgres.silentLogger)
        #expect(report.stages.map(\.stage) == ["draft", "approval"])
        #expect(
            report.stages[0]
                == .init(
                    stage: "draft", stays: 2, p50BusinessHours: 2, p90BusinessHours: 2.8, maxBusinessHours: 3,
                    p50WallHours: 2, p90WallHours: 2.8, maxWallHours: 3))
        #expect(
            report.stages[1]
                == .init(
                    stage: "approval", stays: 2, p50BusinessHours: 18, p90BusinessHours: 25.2, maxBusinessHours: 27,
                    p50WallHours: 60, p90WallHours: 88.8, maxWallHours: 96))
        #expect(report.bottleneck?.stage == "approval")
        #expect(report.steps == Self.sample.steps)
        #expect(report.slaBreaches == 1)
        #expect(report.openSLABreaches == 0)
        #expect(report.paidWithoutDocuments == 0)
        try await database.drop()
    }

    /// Two supplier invoices in November 2026 (Wednesday 4 November is a holiday). A: draft Mon 2 09:00–10:00,
    /// approval until Tue 3 10:00 (Пётр: 9 business h, 24 wall h), now payment. B: draft Mon 2 09:00–12:00,
    /// approval until Fri 6 12:00 (Рита: 6 + 9 + 0 + 9 + 3 = 27 business h, 96 wall h, due Tue 3 12:00: a breach).
    private static let history = """
        INSERT INTO invoiceflow.subdivision (code, name, inn, kpp, bik, settlement_account, correspondent_account)
        VALUES ('rt', 'ООО «Отчёт»', '7725088527', '772501001', '044525225', '40702810938000012345',
                '30101810400000000225');
        INSERT INTO invoiceflow.counterparty (name, inn, kpp, bik, settlement_account)
        VALUES ('ООО «Поставщик»', '7707083893', '770701001', '045004641', '40702810600000000001');
        INSERT INTO invoiceflow.employee (full_name, email)
        VALUES ('Иван Инициаторов', 'ivan@example.test'), ('Пётр Закупкин', 'petr@example.test'),
               ('Рита Складова', 'rita@example.test');
        INSERT INTO invoiceflow.invoice (invoice_type_id, paying_subdivision_id, counterparty_id, initiator_id,
            supplier_invoice_number, supplier_invoice_date, amount_minor, purpose)
        SELECT t.id, s.id, c.id, e.id, n, DATE '2026-10-30', 100000, 'report test ' || n
        FROM invoiceflow.invoice_type AS t, invoiceflow.subdivision AS s, invoiceflow.counterparty AS c,
             invoiceflow.employee AS e, unnest(ARRAY['A', 'B']) AS n
        WHERE t.code = 'supplier_goods' AND e.full_name = 'Иван Инициаторов';
        UPDATE invoiceflow.invoice SET stage = 'payment', submitted_at = now();
        INSERT INTO invoiceflow.audit_log (occurred_at, invoice_id, entity, entity_id, action, channel, before, after,
            prev_hash, hash)
        SELECT h.at, i.id, 'invoice', i.id, h.action, 'sql', h.before::jsonb, h.after::jsonb, '\\x', '\\x'
        FROM (VALUES
            ('A', TIMESTAMPTZ '2026-11-02 09:00+03', 'create', NULL, '{"stage": "draft"}'),
            ('A', '2026-11-02 10:00+03', 'submit', '{"stage": "draft"}', '{"stage": "approval"}'),
            ('A', '2026-11-03 10:00+03', 'stage_payment', '{"stage": "approval"}', '{"stage": "payment"}'),
            ('B', '2026-11-02 09:00+03', 'create', NULL, '{"stage": "draft"}'),
            ('B', '2026-11-02 12:00+03', 'submit', '{"stage": "draft"}', '{"stage": "approval"}'),
            ('B', '2026-11-06 12:00+03', 'stage_payment', '{"stage": "approval"}', '{"stage": "payment"}')
        ) AS h (label, at, action, before, after)
        JOIN invoiceflow.invoice AS i ON i.supplier_invoice_number = h.label
        ORDER BY h.at, h.label;
        INSERT INTO invoiceflow.task (invoice_id, step_key, kind, assignee_id, due_at, created_at, outcome, decided_at,
            decided_by)
        SELECT i.id, 'check', 'approve', e.id, t.due, t.created, 'approved', t.decided, e.id
        FROM (VALUES
            ('A', 'Пётр Закупкин', TIMESTAMPTZ '2026-11-03 10:00+03', TIMESTAMPTZ '2026-11-02 10:00+03',
                TIMESTAMPTZ '2026-11-03 10:00+03'),
            ('B', 'Рита Складова', '2026-11-03 12:00+03', '2026-11-02 12:00+03', '2026-11-06 12:00+03')
        ) AS t (label, approver, due, created, decided)
        JOIN invoiceflow.invoice AS i ON i.supplier_invoice_number = t.label
        JOIN invoiceflow.employee AS e ON e.full_name = t.approver;
        """
}
