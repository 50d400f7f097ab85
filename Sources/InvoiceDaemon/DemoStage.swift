import Foundation
import Logging
import PostgresClient

/// Plays the demo's script on a superuser connection: each action in its own transaction as the
/// person who takes it (`SET LOCAL SESSION AUTHORIZATION`), then a wait until the router has handled
/// what the action queued, judged by the work queue itself (NOTIFY is only a hint, the table is the truth).
struct DemoStage: Sendable {
    /// A superuser's connection: acting as people, and reading what RLS would hide.
    let connection: PostgresConnection
    /// The company to create.
    let company: DemoCompany
    /// The scheduler the demo's service group runs; the demo also runs one round of it "as of" later.
    let scheduler: SchedulerService
    /// How the daemon's services log in (the scheduler's round needs the daemon's identity).
    let daemonLogin: PostgresConfiguration
    /// For the services' connections.
    let logger: Logger
    /// The longest wait for the router to handle one action.
    var settleTimeout: Duration = .seconds(20)
    /// The longest wait for the mailer to write the queued mail at the end.
    var mailTimeout: Duration = .seconds(20)

    /// Refuses to go on unless the session user is a superuser.
    static func requireSuperuser(_ connection: PostgresConnection) async throws {
        let row = try await connection.query(
            "SELECT session_user::text, rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user")[0]
        guard try row.decode(1, as: Bool.self) else { throw DemoError.notSuperuser(user: try row.decode(0)) }
    }

    /// Creates the company and plays the scenario (or finds both from an earlier run), waits for the
    /// mail, and writes the timelines and the psql hints.
    func perform(
        settings: Configuration, database: DatabaseBootstrap, started: ContinuousClock.Instant,
        output: @Sendable (String) -> Void
    ) async throws -> Demo.Summary {
        let played: Bool
        let directory: DemoDirectory
        var invoices: [(story: String, id: Int64, stage: String)] = []
        var lateRound: SchedulerService.RoundReport? = nil
        switch try await company.presence(on: connection) {
        case .other(let subdivisions):
            throw DemoError.foreignCompany(subdivisions: subdivisions)
        case .demo:
            played = false
            directory = try await company.directory(on: connection)
            output("This database already holds the demo company: nothing is replayed. Its invoices as they are now:")
            for story in DemoStory.scenario {
                let rows = try await connection.query(
                    """
                    SELECT id, stage::text FROM invoiceflow.invoice
                    WHERE supplier_invoice_number = \(story.number) AND initiator_id = \(directory.employee(story.initiator))
                    ORDER BY id LIMIT 1
                    """)
                if let row = rows.first { invoices.append((story.key, try row.decode(0), try row.decode(1))) }
            }
        case .empty:
            played = true
            directory = try await company.install(on: connection)
            output(
                "Created the demo company «Медтех»: \(company.subdivisions.count) subdivisions, "
                    + "\(company.people.count) employees, \(company.substitutions.count) substitutions, "
                    + "\(company.counterparties.count) counterparties.")
            for substitution in company.substitutions { output("  substitution \(substitution.label)") }
            output("")
            for story in DemoStory.scenario {
                let id = try await play(story, directory: directory)
                let stage = try await stage(of: id)
                guard stage == story.finalStage else {
                    throw DemoError.unexpected(
                        "invoice \(id) (\(story.key)) ended in \(stage), not \(story.finalStage)")
                }
                invoices.append((story.key, id, stage))
                output("invoice \(id) \(story.type) → \(stage): \(story.shows)")
            }
            if let waiting = invoices.first(where: { $0.story == DemoStory.lateStory }) {
                lateRound = try await runLateRound(on: waiting.id, output: output)
            }
        }
        let unsent = try await waitForMail()
        let timeline = DemoTimeline(connection: connection)
        for invoice in invoices {
            output("")
            for line in try await timeline.lines(of: invoice.id) { output(line) }
        }
        let mailDirectory = settings.mail.relay == nil ? settings.mail.directory : nil
        var summary = Demo.Summary(
            played: played, invoices: invoices, lateRound: lateRound,
            conninfo: database.privateCluster?.conninfo ?? database.configuration.redacted,
            mailDirectory: mailDirectory, elapsed: .zero)
        output("")
        for line in try await timeline.hints(summary, unsentMail: unsent) { output(line) }
        summary.elapsed = ContinuousClock.now - started
        output("")
        output("Demo finished in \(Demo.seconds(summary.elapsed)) s.")
        return summary
    }

    // MARK: - One invoice

    private func play(_ story: DemoStory, directory: DemoDirectory) async throws -> Int64 {
        let initiator = company.person(story.initiator).loginRole
        let paying = directory.subdivisions[story.paying]!
        let receiving = story.receiving.map { directory.subdivisions[$0]! }
        let counterparty = story.counterparty.map { directory.counterparties[$0]! }
        let prepayment = story.prepaymentPercent
        let id = try await act(as: initiator) { c -> Int64 in
            let id: Int64 = try c.query(
                """
                SELECT invoiceflow.create_invoice(
                    p_invoice_type => \(story.type), p_paying_subdivision_id => \(paying),
                    p_supplier_invoice_number => \(story.number), p_supplier_invoice_date => current_date - 2,
                    p_amount_minor => \(story.roubles * 100), p_vat_minor => \(story.roubles * 100 / 6),
                    p_purpose => \(story.purpose), p_counterparty_id => \(counterparty),
                    p_receiving_subdivision_id => \(receiving), p_due_date => current_date + 10,
                    p_prepayment => \(prepayment != nil), p_prepayment_percent => \(prepayment)::smallint,
                    p_urgent => \(story.urgent), p_outside_budget => \(story.outsideBudget),
                    p_goods_received => \(story.goodsReceived))
                """)[0].decode(0)
            if story.submitted { try c.execute("SELECT invoiceflow.submit_invoice(\(id))") }
            return id
        }
        try await settle(id)
        for move in story.moves {
            try await perform(move, on: id, story: story)
            try await settle(id)
        }
        return id
    }

    private func perform(_ move: DemoStory.Move, on invoice: Int64, story: DemoStory) async throws {
        switch move {
        case .approve(let step, let comment):
            var open = try await openTasks(of: invoice, kind: "approve", step: step)
            guard !open.isEmpty else { throw DemoError.unexpected("\(story.key): nobody is asked at step \(step)") }
            // Everyone asked at an all-in-parallel step approves; at an any-one step the router cancels
            // the others' tasks after the first approval, so the loop ends there.
            var rounds = 0
            while let task = open.first, rounds < 10 {
                let decision = comment == nil ? "approve" : "approve_with_remarks"
                try await act(as: task.role) { c in
                    try c.execute("SELECT invoiceflow.decide_task(\(task.id), \(decision), \(comment))")
                }
                try await settle(invoice)
                open = try await openTasks(of: invoice, kind: "approve", step: step)
                rounds += 1
            }
        case .reject(let step, let comment):
            guard let task = try await openTasks(of: invoice, kind: "approve", step: step).first else {
                throw DemoError.unexpected("\(story.key): nobody is asked at step \(step)")
            }
            try await act(as: task.role) { c in
                try c.execute("SELECT invoiceflow.decide_task(\(task.id), 'reject', \(comment))")
            }
        case .rework(let comment, let attachment):
            let content = Data("%PDF-1.4 demo: \(attachment)".utf8).map { String(format: "%02x", $0) }.joined()
            try await act(as: company.person(story.initiator).loginRole) { c in
                try c.execute("SELECT invoiceflow.return_for_rework(\(invoice), \(comment))")
                try c.execute(
                    """
                    SELECT invoiceflow.add_attachment(\(invoice), \(attachment), 'application/pdf',
                        decode(\(content), 'hex'))
                    """)
                try c.execute("SELECT invoiceflow.resubmit_invoice(\(invoice))")
            }
        case .pay(let reference):
            guard let task = try await openTasks(of: invoice, kind: "pay").first else {
                throw DemoError.unexpected("\(story.key): nobody is asked to pay")
            }
            try await act(as: task.role) { c in
                try c.execute(
                    """
                    SELECT invoiceflow.record_payment(\(invoice),
                        (SELECT amount_minor FROM invoiceflow.invoice WHERE id = \(invoice)), current_date, \(reference))
                    """)
            }
        case .document(let kind, let number):
            guard let task = try await openTasks(of: invoice, kind: "collect_documents").first else {
                throw DemoError.unexpected("\(story.key): nobody collects the closing documents")
            }
            try await act(as: task.role) { c in
                try c.execute(
                    "SELECT invoiceflow.record_closing_document(\(invoice), \(kind), \(number), current_date)")
            }
        case .close:
            // The last collector named is the one who checks (the document clerk after the initiator).
            guard let task = try await openTasks(of: invoice, kind: "collect_documents").last else {
                throw DemoError.unexpected("\(story.key): nobody may close it")
            }
            try await act(as: task.role) { c in try c.execute("SELECT invoiceflow.close_invoice(\(invoice))") }
        }
    }

    /// SLA escalation: one scheduler round "as of" an hour after the open approval task of `invoice` is
    /// due. The late task stays open (a timeout never rejects); the approver's head gets a parallel task.
    private func runLateRound(on invoice: Int64, output: @Sendable (String) -> Void) async throws
        -> SchedulerService.RoundReport
    {
        let due: Date = try await connection.query(
            """
            SELECT max(due_at) FROM invoiceflow.task
            WHERE invoice_id = \(invoice) AND outcome IS NULL AND kind = 'approve'
            """)[0].decode(0)
        let asOf = due.addingTimeInterval(3_600)
        let daemon = try await PostgresConnection.connect(
            daemonLogin.setting("application_name", "invoiceflow-demo-scheduler"), logger: logger)
        let report: SchedulerService.RoundReport
        do {
            report = try await scheduler.round(asOf: asOf, on: daemon)
            await daemon.close()
        } catch {
            await daemon.close()
            throw error
        }
        try await settle(invoice)
        let moment = try await connection.query("SELECT to_char(\(asOf)::timestamptz, 'YYYY-MM-DD HH24:MI TZ')")[0]
            .decode(0, as: String.self)
        output(
            "scheduler round as of \(moment) (an hour after the CFO's deadline on invoice \(invoice)): "
                + "overdue tasks escalated: \(report.escalations), reminders: \(report.reminders), "
                + "payment-day mails: \(report.paymentDue), overdue-documents notices: \(report.documentsOverdue)")
        return report
    }

    // MARK: - Acting and watching

    /// Runs `body` in one transaction as the person whose login role is `role`.
    @discardableResult
    private func act<T: Sendable>(as role: String, _ body: @Sendable (isolated PostgresConnection) throws -> T)
        async throws -> T
    {
        try await connection.transaction(retry: .never) { c in
            try c.execute("SET LOCAL SESSION AUTHORIZATION \(identifier: role)")
            return try body(c)
        }
    }

    private struct OpenTask: Sendable {
        var id: Int64
        var role: String
    }

    private func openTasks(of invoice: Int64, kind: String, step: String? = nil) async throws -> [OpenTask] {
        try await connection.query(
            """
            SELECT t.id, e.login_role::text FROM invoiceflow.task AS t
            JOIN invoiceflow.employee AS e ON e.id = t.assignee_id
            WHERE t.invoice_id = \(invoice) AND t.outcome IS NULL AND t.kind::text = \(kind)
              AND (\(step)::text IS NULL OR t.step_key = \(step))
            ORDER BY t.id
            """
        ).map { OpenTask(id: try $0.decode(0), role: try $0.decode(1)) }
    }

    private func stage(of invoice: Int64) async throws -> String {
        try await connection.query("SELECT stage::text FROM invoiceflow.invoice WHERE id = \(invoice)")[0].decode(0)
    }

    /// Returns once the router has handled every work item of the invoice; a parked item is an error.
    /// The queue is polled: the router announces nothing when it finishes, and the table is the truth.
    private func settle(_ invoice: Int64) async throws {
        let deadline = ContinuousClock.now + settleTimeout
        while true {
            let row = try await connection.query(
                """
                SELECT count(*) FILTER (WHERE parked_at IS NULL)::int,
                       max(last_error) FILTER (WHERE parked_at IS NOT NULL)
                FROM invoiceflow_private.work_item WHERE invoice_id = \(invoice) AND done_at IS NULL
                """)[0]
            if let reason = try row.decode(1, as: String?.self) {
                throw DemoError.routingParked(invoice: invoice, reason: reason)
            }
            if try row.decode(0, as: Int.self) == 0 { return }
            guard ContinuousClock.now < deadline else {
                throw DemoError.timedOut("the router to handle invoice \(invoice)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits until the mailer has handled every message due now; returns how many are still pending.
    private func waitForMail() async throws -> Int {
        let deadline = ContinuousClock.now + mailTimeout
        while true {
            let pending = try await connection.query(
                """
                SELECT count(*)::int FROM invoiceflow_private.mail_outbox
                WHERE state = 'pending' AND next_attempt_at <= now()
                """)[0].decode(0, as: Int.self)
            if pending == 0 || ContinuousClock.now >= deadline { return pending }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
