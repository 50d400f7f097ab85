import Foundation
import InvoiceDomain
import InvoiceStore
import InvoiceTestSupport
import Logging
import PostgresClient
import Synchronization
import Testing

@testable import InvoiceDaemon

/// Runs `body` with a fresh company and always drops it.
func withCompany(_ body: (RouterTestCompany) async throws -> Void) async throws {
    let company = try await RouterTestCompany.create()
    do {
        try await body(company)
        await company.close()
    } catch {
        await company.close()
        throw error
    }
}

@Suite("router: rework, substitution, parking, replicas, wake-ups")
struct RouterQueueTests {
    @Test("after a rejection and resubmission only the rejecter and those not yet asked decide again")
    func rejectionAndResubmission() async throws {
        try await withCompany { company in
            let invoice = try await company.submit(
                .init(type: "operating_expenses", initiator: "petr", roubles: 100_000, outsideBudget: true))
            try await company.route()
            let head = try await company.tasks(of: invoice, openOnly: true)
            #expect(head.map(\.assignee) == ["olga"])
            try await company.decide(try #require(head.first).id, as: "olga")
            try await company.route()
            let cfo = try await company.tasks(of: invoice, openOnly: true)
            #expect(cfo.map(\.assignee) == ["cfo"])
            try await company.decide(try #require(cfo.first).id, as: "cfo", "reject", comment: "wrong cost centre")
            try await company.route()
            #expect(try await company.stage(of: invoice) == "rejected")
            #expect(try await company.tasks(of: invoice, openOnly: true).isEmpty)

            try await company.act(as: "petr") { c in
                try c.execute("SELECT invoiceflow.return_for_rework(\(invoice), 'fixing the cost centre')")
                try c.execute("SELECT invoiceflow.resubmit_invoice(\(invoice))")
            }
            try await company.route()
            // olga's approval carries over: the CFO, who rejected, is asked first.
            let again = try await company.tasks(of: invoice, openOnly: true)
            #expect(again.map(\.assignee) == ["cfo"])
            try await company.decide(try #require(again.first).id, as: "cfo")
            try await company.route()
            let ceo = try await company.tasks(of: invoice, openOnly: true)
            #expect(ceo.map(\.assignee) == ["ceo"])
            try await company.decide(try #require(ceo.first).id, as: "ceo")
            try await company.route()
            #expect(try await company.stage(of: invoice) == "payment")
            let all = try await company.tasks(of: invoice)
            #expect(all.filter { $0.assignee == "olga" }.count == 1)
            #expect(all.filter { $0.assignee == "cfo" }.map(\.outcome) == ["rejected", "approved"])
            // The route version stays pinned across the rework: one pin only.
            #expect(try await company.auditActions(of: invoice).filter { $0 == "pin_route" }.count == 1)
        }
    }

    @Test("an absent approver's current deputy gets the task, acting for them")
    func substitution() async throws {
        try await withCompany { company in
            try await company.admin.execute(
                """
                INSERT INTO invoiceflow.substitution (absent_employee_id, deputy_employee_id, valid, reason)
                VALUES (\(company.employee("olga")), \(company.employee("gleb")),
                        tstzrange(now() - interval '1 day', now() + interval '1 day'), 'vacation')
                """)
            let invoice = try await company.submit(
                .init(type: "operating_expenses", initiator: "petr", roubles: 10_000))
            try await company.route()
            let open = try await company.tasks(of: invoice, openOnly: true)
            #expect(open.map(\.assignee) == ["gleb"])
            #expect(open.map(\.actingFor) == ["olga"])
            try await company.decide(try #require(open.first).id, as: "gleb")
            try await company.route()
            #expect(try await company.stage(of: invoice) == "payment")
        }
    }

    @Test("an initiator the route does not allow parks the invoice with the reason, holding back its later work")
    func parkedWhenNotAllowed() async throws {
        try await withCompany { company in
            // Payroll may be started only by a payroll accountant.
            let invoice = try await company.submit(
                .init(type: "payroll", initiator: "petr", roubles: 1_000, counterparty: 1))
            try await company.route()
            #expect(try await company.tasks(of: invoice).isEmpty)
            let parked = try await company.admin.query(
                """
                SELECT kind, last_error FROM invoiceflow_private.work_item
                WHERE invoice_id = \(invoice) AND parked_at IS NOT NULL
                """)
            #expect(parked.count == 1)
            #expect(try parked.first?.decode("last_error", as: String.self).contains("initiatorNotAllowed") == true)
            #expect(try await company.auditActions(of: invoice).contains("routing_parked"))
            // A later event of the same invoice waits behind the parked item.
            try await company.act(as: "petr") { c in
                try c.execute("SELECT invoiceflow.add_comment(\(invoice), 'any news?')")
            }
            #expect(try await company.route() == 0)
        }
    }

    @Test("a failing item is retried with back-off, then parked with its error, never dropped")
    func retryThenPark() async throws {
        try await withCompany { company in
            // A rouble invoice on a route with a dollar threshold cannot be evaluated.
            var route = RouteVersion.operatingExpenses
            route.steps[1].condition = .amountAbove(Money(minorUnits: 100, currency: .usd))
            let daemon = try await PostgresConnection.connect(
                company.daemonConfiguration, logger: TestPostgres.silentLogger)
            let custom = route
            try await daemon.transaction { _ = try RoutingStore.installRoutes([custom], on: $0) }
            await daemon.close()

            let invoice = try await company.submit(.init(type: "operating_expenses", initiator: "petr", roubles: 500))
            try await company.route(maxAttempts: 2)
            let firstRow = try await company.admin.query(
                """
                SELECT attempts, parked_at IS NOT NULL AS parked, run_after > now() AS backing_off, last_error
                FROM invoiceflow_private.work_item WHERE invoice_id = \(invoice) AND done_at IS NULL ORDER BY id LIMIT 1
                """
            ).first
            let first = try #require(firstRow)
            #expect(try first.decode("attempts", as: Int.self) == 1)
            #expect(try first.decode("parked", as: Bool.self) == false)
            #expect(try first.decode("backing_off", as: Bool.self))
            #expect(try first.decode("last_error", as: String.self).contains("thresholdCurrencyMismatch"))

            try await company.admin.execute(
                "UPDATE invoiceflow_private.work_item SET run_after = now() WHERE invoice_id = \(invoice)")
            try await company.route(maxAttempts: 2)
            let secondRow = try await company.admin.query(
                """
                SELECT attempts, parked_at IS NOT NULL AS parked FROM invoiceflow_private.work_item
                WHERE invoice_id = \(invoice) AND done_at IS NULL ORDER BY id LIMIT 1
                """
            ).first
            let second = try #require(secondRow)
            #expect(try second.decode("attempts", as: Int.self) == 2)
            #expect(try second.decode("parked", as: Bool.self))
            #expect(try await company.tasks(of: invoice).isEmpty)
        }
    }

    @Test("two routers racing on one queue route every invoice exactly once")
    func racingReplicas() async throws {
        try await withCompany { company in
            var invoices: [Int64] = []
            for n in 0..<24 {
                invoices.append(
                    try await company.submit(
                        .init(
                            type: "operating_expenses", initiator: n.isMultiple(of: 2) ? "petr" : "gleb", roubles: 1_000
                        )))
            }
            async let a = company.route()
            async let b = company.route()
            let routed = try await a + b
            #expect(routed == 48, "two work items (created, submitted) per invoice")
            let duplicates = try await company.admin.query(
                """
                SELECT invoice_id, step_key, count(*) FROM invoiceflow.task
                GROUP BY invoice_id, step_key HAVING count(*) > 1
                """)
            #expect(duplicates.isEmpty)
            let tasks = try await company.admin.query("SELECT count(*) FROM invoiceflow.task")
            #expect(try tasks[0].decode(0, as: Int.self) == invoices.count)
            let pending = try await company.admin.query(
                "SELECT count(*) FROM invoiceflow_private.work_item WHERE done_at IS NULL")
            #expect(try pending[0].decode(0, as: Int.self) == 0)
        }
    }

    @Test(
        "the running service routes on NOTIFY without waiting for its sweep, and stops promptly",
        arguments: [1, 2])
    func serviceWakesOnNotify(connections: Int) async throws {
        try await withCompany { company in
            let router = RouterService(
                configuration: company.daemonConfiguration, worker: "router-service", logger: TestPostgres.silentLogger,
                sweepInterval: .seconds(3600), connections: connections)
            let listener = WorkListenerService(
                configuration: company.daemonConfiguration, logger: TestPostgres.silentLogger
            ) { _ in router.wake.signal() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await router.run() }
                group.addTask { try await listener.run() }
                // The first sweep (after connecting) stores the routes; give it a moment.
                try await Task.sleep(for: .milliseconds(500))
                let invoice = try await company.submit(
                    .init(type: "operating_expenses", initiator: "petr", roubles: 2_000))
                let deadline = ContinuousClock.now + .seconds(10)
                var open: [RouterTestCompany.TaskRow] = []
                while open.isEmpty && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                    open = try await company.tasks(of: invoice, openOnly: true)
                }
                #expect(open.map(\.assignee) == ["olga"])
                let stopping = ContinuousClock.now
                group.cancelAll()
                while let _ = try? await group.next() {}
                #expect(ContinuousClock.now - stopping < .seconds(3))
            }
        }
    }
}

@Suite("router wake-ups")
struct RouterWakeTests {
    @Test("a signal while nobody waits is kept for the next wait, once")
    func signalIsKept() async {
        let wake = RouterWake()
        wake.signal()
        wake.signal()
        let started = ContinuousClock.now
        await wake.wait(timeout: .seconds(30))
        #expect(ContinuousClock.now - started < .seconds(5))
        // Both signals came while nobody waited: one wake-up. The next wait lasts its timeout.
        let again = ContinuousClock.now
        await wake.wait(timeout: .milliseconds(200))
        #expect(ContinuousClock.now - again >= .milliseconds(200))
    }

    @Test("with two loops waiting, one signal wakes one of them, the longest waiting; a second wakes the other")
    func signalWakesOneWaiter() async throws {
        let wake = RouterWake()
        let woken = Woken()
        let first = Task {
            await wake.wait(timeout: .seconds(30))
            woken.names.withLock { $0.append("first") }
        }
        try await Task.sleep(for: .milliseconds(100))
        let second = Task {
            await wake.wait(timeout: .seconds(30))
            woken.names.withLock { $0.append("second") }
        }
        try await Task.sleep(for: .milliseconds(100))
        wake.signal()
        try await Task.sleep(for: .milliseconds(300))
        #expect(woken.names.withLock { $0 } == ["first"])
        wake.signal()
        await first.value
        await second.value
        #expect(woken.names.withLock { $0 } == ["first", "second"])
    }

    /// The order in which waiting tasks were woken.
    final class Woken: Sendable {
        let names = Mutex<[String]>([])
    }

    @Test("a waiter whose wait times out leaves no trace: the next signal wakes a loop still waiting")
    func timedOutWaiterIsForgotten() async throws {
        let wake = RouterWake()
        await wake.wait(timeout: .milliseconds(50))
        let started = ContinuousClock.now
        let waiting = Task { await wake.wait(timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(100))
        wake.signal()
        await waiting.value
        #expect(ContinuousClock.now - started < .seconds(5))
    }
}

@Suite("router: a transition cut short leaves nothing behind")
struct RouterCrashTests {
    @Test("a router whose connection dies mid-transition leaves the item pending; the next routes it exactly once")
    func connectionKilledMidTransition() async throws {
        try await withCompany { company in
            let invoice = try await company.submit(.init(type: "operating_expenses", initiator: "petr", roubles: 3_000))
            // A router gets as far as claiming the items and writing a task, then its backend is killed.
            let dying = try await PostgresConnection.connect(
                company.daemonConfiguration, logger: TestPostgres.silentLogger)
            let olga = company.employee("olga")
            let pid = try await dying.run { c -> Int32 in
                try c.execute(script: "BEGIN")
                _ = try c.query("SELECT * FROM invoiceflow.daemon_claim_routing('dying')")
                try c.execute(
                    "SELECT invoiceflow.daemon_create_task(\(invoice), 'department_head', 'approve', \(olga))")
                return c.backendProcessID ?? 0
            }
            try await company.admin.execute("SELECT pg_terminate_backend(\(pid))")
            await dying.close()

            #expect(try await company.tasks(of: invoice).isEmpty, "the half-written task was rolled back")
            try await company.route()
            let tasks = try await company.tasks(of: invoice)
            #expect(tasks.map(\.assignee) == ["olga"])
            let pending = try await company.admin.query(
                "SELECT count(*) FROM invoiceflow_private.work_item WHERE invoice_id = \(invoice) AND done_at IS NULL")
            #expect(try pending[0].decode(0, as: Int.self) == 0)
        }
    }
}

@Suite("router: SLAs follow the stored working calendar")
struct RouterCalendarTests {
    @Test("days an administrator declares non-working push the due time of tasks created afterwards")
    func storedHolidaysMoveDueDates() async throws {
        try await withCompany { company in
            func due(of invoice: Int64) async throws -> Int64 {
                try await company.admin.query(
                    "SELECT extract(epoch FROM due_at)::bigint FROM invoiceflow.task WHERE invoice_id = \(invoice)"
                )[0].decode(0)
            }
            let before = try await company.submit(.init(type: "operating_expenses", initiator: "petr", roubles: 100))
            try await company.route()
            // The next four days become non-working (the superuser may act as an administrator).
            try await company.admin.execute(
                """
                SELECT invoiceflow.set_working_day(d::date, false, 'test: office closed')
                FROM generate_series((now() AT TIME ZONE 'Europe/Moscow')::date,
                                     (now() AT TIME ZONE 'Europe/Moscow')::date + 3, interval '1 day') AS d
                """)
            let after = try await company.submit(.init(type: "operating_expenses", initiator: "gleb", roubles: 100))
            try await company.route()
            let shift = try await due(of: after) - due(of: before)
            #expect(shift >= 24 * 3600, "due moved by \(shift) s")
        }
    }
}

@Suite("router: reconnects after losing its database connection")
struct RouterReconnectTests {
    @Test("after its backend is terminated the running router reconnects and routes what arrives next")
    func reconnects() async throws {
        try await withCompany { company in
            let router = RouterService(
                configuration: company.daemonConfiguration, worker: "router-reconnect",
                logger: TestPostgres.silentLogger, sweepInterval: .milliseconds(100))
            func routed(_ invoice: Int64) async throws -> Bool {
                let deadline = ContinuousClock.now + .seconds(15)
                while ContinuousClock.now < deadline {
                    if try await !company.tasks(of: invoice).isEmpty { return true }
                    try await Task.sleep(for: .milliseconds(20))
                }
                return false
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await router.run() }
                let first = try await company.submit(.init(type: "operating_expenses", initiator: "petr", roubles: 10))
                #expect(try await routed(first))
                // Every loop has connected (the second may still be connecting when the first has routed).
                let connected = ContinuousClock.now + .seconds(10)
                while ContinuousClock.now < connected {
                    let rows = try await company.admin.query(
                        """
                        SELECT count(*) FROM pg_stat_activity
                        WHERE application_name = 'invoiceflow-router' AND datname = current_database()
                        """)
                    if try rows[0].decode(0, as: Int.self) == router.connections { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                let killed = try await company.admin.query(
                    """
                    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE application_name = 'invoiceflow-router' AND datname = current_database()
                    """)
                // Every routing connection is terminated (one backend per loop).
                #expect(try killed[0].decode(0, as: Int.self) == router.connections)
                let second = try await company.submit(.init(type: "operating_expenses", initiator: "gleb", roubles: 10))
                #expect(try await routed(second))
                group.cancelAll()
            }
        }
    }
}
