import Foundation
import InvoiceDaemon
import InvoiceTestSupport
import PostgresClient
import Testing

@testable import InvoiceWeb

/// The action links over real HTTP against the daemon's server and a real database: an invoice of
/// Petr's routed to Olga (head of his department), and Olga's link to her approval task.
@Suite("Action links: confirmation page and decision over HTTP", .serialized)
struct ActionLinkTests {
    struct Fixture: Sendable {
        var company: WebTestCompany
        var invoice: Int64
        var task: Int64
        var client: WebTestClient
        /// One expiry for every link of a test, so the page's GET and POST use the very same link (a form
        /// token belongs to one link: a link signed a second later is another link).
        var expiry = Date().addingTimeInterval(3600)

        var olga: Int64 { company.employee("olga") }

        /// The path of a link for `task` (default: Olga's) signed with `keyring`.
        func link(
            task: Int64? = nil, recipient: Int64? = nil, expires: Date? = nil,
            keyring: LinkKeyring = WebTestServer.keyring
        ) -> String {
            "/a/"
                + ActionToken(taskID: task ?? self.task, recipientID: recipient ?? olga, expiresAt: expires ?? expiry)
                .signed(with: keyring)
        }

        /// What must not move when a request is refused: the audit log, the task, the used links.
        struct Snapshot: Equatable {
            var auditRows: Int64
            var outcome: String?
            var usedLinks: Int64
            var stage: String
        }

        func snapshot() async throws -> Snapshot {
            let row = try await company.admin.query(
                """
                SELECT (SELECT count(*) FROM invoiceflow.audit_log),
                       (SELECT outcome::text FROM invoiceflow.task WHERE id = \(task)),
                       (SELECT count(*) FROM invoiceflow_private.action_link_use),
                       (SELECT stage::text FROM invoiceflow.invoice WHERE id = \(invoice))
                """)[0]
            return Snapshot(
                auditRows: try row.decode(0), outcome: try row.decode(1), usedLinks: try row.decode(2),
                stage: try row.decode(3))
        }
    }

    /// A company with Petr's invoice waiting for Olga, the server running, and `body` run against both.
    static func withFixture(
        purpose: String = "Офисная мебель для отдела логистики", keyring: LinkKeyring = WebTestServer.keyring,
        _ body: @Sendable (Fixture) async throws -> Void
    ) async throws {
        let company = try await WebTestCompany.create()
        do {
            var draft = WebTestCompany.InvoiceDraft(
                type: "operating_expenses", initiator: "petr", roubles: 100_000, outsideBudget: true)
            draft.purpose = purpose
            let invoice = try await company.submit(draft)
            try await company.route()
            let open = try await company.tasks(of: invoice, openOnly: true)
            #expect(open.map(\.assignee) == ["olga"])
            let task = try #require(open.first).id
            try await WebTestServer.run(database: company.daemonConfiguration, keyring: keyring) { base in
                try await body(
                    Fixture(company: company, invoice: invoice, task: task, client: WebTestClient(base: base)))
            }
        } catch {
            await company.close()
            throw error
        }
        await company.close()
    }

    @Test("GET and HEAD show the confirmation page with strict headers and change nothing")
    func getAndHeadChangeNothing() async throws {
        try await Self.withFixture { f in
            let before = try await f.snapshot()
            let page = try f.client.get(f.link())
            #expect(page.status == 200)
            #expect(page.body.contains("<form method=\"post\">"))
            #expect(page.body.contains("Согласовать"))
            #expect(page.body.contains("Офисная мебель для отдела логистики"))
            #expect(page.body.contains("olga"))  // the holder
            #expect(page.body.contains("40702810700000000101, БИК 044525593"))  // where the money goes
            #expect(!page.body.contains("<script"))
            // What is decided on comes first, then the forms, then the history (with the router's steps in words).
            let facts = try #require(page.body.range(of: "Офисная мебель")).lowerBound
            let form = try #require(page.body.range(of: "<form")).lowerBound
            let history = try #require(page.body.range(of: "История")).lowerBound
            #expect(facts < form && form < history)
            #expect(page.body.contains("начат шаг маршрута") && !page.body.contains("— route_step_started"))
            #expect(page.body.contains("<title>Согласование счёта № "))
            #expect(!page.body.contains("employee#"))  // the router's internal notes stay out
            #expect(page.body.contains("<option value=\"\">— выберите —</option>"))
            #expect(page.header("Cache-Control") == "no-store")
            #expect(page.header("X-Frame-Options") == "DENY")
            #expect(page.header("Referrer-Policy") == "no-referrer")
            let csp = try #require(page.header("Content-Security-Policy"))
            #expect(csp.hasPrefix("default-src 'none'; style-src 'sha256-"))
            #expect(csp.contains("form-action 'self'") && csp.contains("frame-ancestors 'none'"))
            #expect(csp.contains(WebPage.styleSource))

            let head = try f.client.head(f.link())
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            #expect(head.header("Cache-Control") == "no-store")
            // A scanner fetching the link again and again changes nothing either.
            for _ in 0..<3 { _ = try f.client.get(f.link()) }
            _ = try f.client.get(f.link() + "/card")
            #expect(try await f.snapshot() == before)
        }
    }

    @Test("a POST with the page's form token approves exactly once, in one transaction with its email_link audit row")
    func postApprovesOnce() async throws {
        try await Self.withFixture { f in
            let before = try await f.snapshot()
            let form = try ConfirmationForm(page: try f.client.get(f.link()).body)
            let done = try f.client.post(f.link(), form: form.fields("approve"))
            #expect(done.status == 200)
            #expect(done.body.contains("Вы согласовали счёт."))
            let after = try await f.snapshot()
            #expect(after.outcome == "approved")
            #expect(after.auditRows == before.auditRows + 1)
            #expect(after.usedLinks == 1)
            let audit = try await f.company.admin.query(
                """
                SELECT action, channel, actor_employee_id, session_role::text FROM invoiceflow.audit_log
                WHERE entity = 'task' AND entity_id = \(f.task) ORDER BY id DESC LIMIT 1
                """)[0]
            #expect(try audit.decode(0, as: String.self) == "approve")
            #expect(try audit.decode(1, as: String.self) == "email_link")
            #expect(try audit.decode(2, as: Int64.self) == f.olga)
            #expect(try audit.decode(3, as: String.self) == "invoiceflow_daemon")

            // The same form again (a double click, a replay): refused, says who decided and when.
            let replay = try f.client.post(f.link(), form: form.fields("approve"))
            #expect(replay.status == 409)
            #expect(replay.body.contains("Решение уже принято"))
            #expect(replay.body.contains("согласовано, olga"))
            #expect(try await f.snapshot() == after)
            // A fresh page for the decided task shows the same, without a form.
            let again = try f.client.get(f.link())
            #expect(again.body.contains("согласовано, olga") && !again.body.contains("<form"))
        }
    }

    /// Ways a POST can miss the page's form token.
    static let badForms: [(String, @Sendable (ConfirmationForm) -> [(String, String)])] = [
        ("no form token at all", { _ in [("action", "approve")] }),
        ("a form token without its nonce", { f in [("form", f.formToken), ("action", "approve")] }),
        (
            "another nonce",
            { f in [("nonce", String(f.nonce.reversed())), ("form", f.formToken), ("action", "approve")] }
        ),
        (
            "a forged form token",
            { f in [("nonce", f.nonce), ("form", String(repeating: "A", count: 43)), ("action", "approve")] }
        ),
    ]

    @Test("a POST without the page's form token is refused and changes nothing", arguments: 0..<badForms.count)
    func postWithoutFormTokenRefused(_ index: Int) async throws {
        try await Self.withFixture { f in
            let form = try ConfirmationForm(page: try f.client.get(f.link()).body)
            let before = try await f.snapshot()
            let reply = try f.client.post(f.link(), form: Self.badForms[index].1(form))
            #expect(reply.status == 403, "\(Self.badForms[index].0)")
            #expect(reply.body.contains("Форма устарела"))
            #expect(try await f.snapshot() == before)
        }
    }

    @Test("forged, foreign-key, tampered, expired and wrong-task links are refused with a clear page and no change")
    func badLinksRefused() async throws {
        try await Self.withFixture { f in
            let good = f.link()
            let foreign = LinkKeyring([LinkKey(id: "old", secret: Array(repeating: 1, count: 32))!])!
            // Another task of the same company: Petr's second invoice, routed to Olga as well.
            let other = try await f.company.submit(
                .init(type: "operating_expenses", initiator: "petr", roubles: 50_000, outsideBudget: true))
            try await f.company.route()
            let otherTask = try #require(try await f.company.tasks(of: other, openOnly: true).first).id
            let otherLink = f.link(task: otherTask)
            let swapped = otherLink.replacingOccurrences(of: ".\(otherTask).", with: ".\(f.task).")
            let cases: [(String, String, Int, String)] = [
                (
                    "signature changed", String(good.dropLast()) + (good.hasSuffix("A") ? "B" : "A"), 404,
                    "Ссылка недействительна"
                ),
                ("signed with a key we do not have", f.link(keyring: foreign), 404, "Ссылка недействительна"),
                ("not a token", "/a/hello", 404, "Ссылка недействительна"),
                ("another task's signature on this task", swapped, 404, "Ссылка недействительна"),
                ("expired", f.link(expires: Date().addingTimeInterval(-60)), 410, "Ссылка устарела"),
            ]
            let before = try await f.snapshot()
            for (name, path, status, text) in cases {
                let page = try f.client.get(path)
                #expect(page.status == status, "GET \(name)")
                #expect(page.body.contains(text), "GET \(name)")
                #expect(!page.body.contains("<form"), "GET \(name)")
                let posted = try f.client.post(path, form: [("action", "approve"), ("nonce", "x"), ("form", "y")])
                #expect(posted.status == status, "POST \(name)")
            }
            #expect(try await f.snapshot() == before)
        }
    }

    @Test("a link mailed to someone who does not hold the task shows nothing and cannot decide it")
    func notTheHolder() async throws {
        try await Self.withFixture { f in
            let gleb = f.company.employee("gleb")
            let link = f.link(recipient: gleb)
            let before = try await f.snapshot()
            // Gleb may not see Petr's invoice: row-level security answers for him, as in his own session.
            let page = try f.client.get(link)
            #expect(page.status == 403)
            #expect(page.body.contains("Счёт недоступен") && !page.body.contains("<form"))
            // Even a correctly derived form token does not help: the database refuses to act for him.
            let token = String(link.dropFirst(3))
            let nonce = ActionToken.newNonce()
            let form = try #require(ActionToken.formToken(for: token, nonce: nonce, with: WebTestServer.keyring))
            let reply = try f.client.post(link, form: [("nonce", nonce), ("form", form), ("action", "approve")])
            #expect(reply.status == 403)
            #expect(try await f.snapshot() == before)
        }
    }

    @Test("a link for an invoice that changed says so, links the current card, and cannot act")
    func staleVersion() async throws {
        try await Self.withFixture { f in
            let form = try ConfirmationForm(page: try f.client.get(f.link()).body)
            // Petr takes the invoice back, changes the amount and submits it again.
            try await f.company.act(as: "petr") { c in
                try c.execute("SELECT invoiceflow.return_for_rework(\(f.invoice), 'wrong amount')")
                try c.execute("SELECT invoiceflow.edit_draft(\(f.invoice), p_amount_minor => 12345600::bigint)")
                try c.execute(
                    """
                    SELECT invoiceflow.add_attachment(\(f.invoice), 'счёт <исправленный>.pdf', 'application/pdf',
                        convert_to('%PDF-1.4 fixed', 'UTF8'))
                    """)
                try c.execute("SELECT invoiceflow.resubmit_invoice(\(f.invoice))")
            }
            let before = try await f.snapshot()
            let page = try f.client.get(f.link())
            #expect(page.status == 409)
            #expect(page.body.contains("Счёт изменился"))
            #expect(!page.body.contains("<form"))
            let card = try f.client.get(f.link() + "/card")
            #expect(card.status == 200)
            #expect(card.body.contains("123\u{00A0}456,00"))
            // The current card: the new attachment (escaped) and the rework in the history, with its comment.
            #expect(card.body.contains("счёт &lt;исправленный&gt;.pdf"))
            #expect(card.body.contains("вернул(а) на доработку") && card.body.contains("«wrong amount»"))
            #expect(!card.body.contains("<form"))
            let reply = try f.client.post(f.link(), form: form.fields("approve"))
            #expect(reply.status == 409)
            #expect(reply.body.contains("Счёт изменился"))
            #expect(try await f.snapshot() == before)
        }
    }

    @Test("key rotation: an old-key link works while the old key is listed, and not after it is removed")
    func keyRotation() async throws {
        let rotated = LinkKeyring([WebTestServer.newKey, WebTestServer.oldKey])!
        try await Self.withFixture(keyring: rotated) { f in
            let oldLink = f.link(keyring: WebTestServer.keyring)
            let form = try ConfirmationForm(page: try f.client.get(oldLink).body)
            #expect(try f.client.post(oldLink, form: form.fields("approve")).status == 200)
            #expect(try await f.snapshot().outcome == "approved")
        }
        let newOnly = LinkKeyring([WebTestServer.newKey])!
        try await Self.withFixture(keyring: newOnly) { f in
            let before = try await f.snapshot()
            let oldLink = f.link(keyring: WebTestServer.keyring)
            #expect(try f.client.get(oldLink).status == 404)
            #expect(try f.client.post(oldLink, form: [("action", "approve")]).status == 404)
            #expect(try f.client.get(f.link(keyring: newOnly)).status == 200)
            #expect(try await f.snapshot() == before)
        }
    }

    @Test("rejecting needs a comment; with one the invoice goes back to its initiator")
    func rejectNeedsComment() async throws {
        try await Self.withFixture { f in
            let form = try ConfirmationForm(page: try f.client.get(f.link()).body)
            let before = try await f.snapshot()
            let empty = try f.client.post(f.link(), form: form.fields("reject", comment: "   "))
            #expect(empty.status == 422)
            #expect(try await f.snapshot() == before)
            let done = try f.client.post(f.link(), form: form.fields("reject", comment: "нет в бюджете"))
            #expect(done.status == 200)
            let after = try await f.snapshot()
            #expect(after.outcome == "rejected")
            #expect(after.stage == "rejected")
            let comment: String? = try await f.company.admin.query(
                "SELECT comment FROM invoiceflow.task WHERE id = \(f.task)")[0].decode(0)
            #expect(comment == "нет в бюджете")
        }
    }

    @Test("delegating hands the task to the chosen colleague with the reason")
    func delegate() async throws {
        try await Self.withFixture { f in
            let page = try f.client.get(f.link())
            let gleb = f.company.employee("gleb")
            #expect(page.body.contains("<option value=\"\(gleb)\">gleb</option>"))
            // The initiator is never offered (separation of duties).
            #expect(!page.body.contains("<option value=\"\(f.company.employee("petr"))\">"))
            let form = try ConfirmationForm(page: page.body)
            let done = try f.client.post(
                f.link(), form: form.fields("delegate", comment: "в отпуске", delegateTo: gleb))
            #expect(done.status == 200, "\(done.body)")
            #expect(try await f.snapshot().outcome == "delegated")
            let open = try await f.company.tasks(of: f.invoice, openOnly: true)
            #expect(open.map(\.assignee) == ["gleb"])
        }
    }

    @Test("Russian by default, English by ?lang=en or Accept-Language")
    func languages() async throws {
        try await Self.withFixture { f in
            let ru = try f.client.get(f.link())
            #expect(ru.body.contains("<html lang=\"ru\">") && ru.body.contains("Согласовать"))
            let en = try f.client.get(f.link() + "?lang=en")
            #expect(en.body.contains("<html lang=\"en\">") && en.body.contains(">Approve<"))
            let header = try f.client.get(f.link(), headers: ["Accept-Language": "de-DE, en;q=0.8, ru;q=0.5"])
            #expect(header.body.contains("<html lang=\"en\">"))
            #expect(en.body.contains("History") && en.body.contains("submitted for approval"))
        }
    }

    @Test("invoice text is escaped: markup in a purpose is shown, never run")
    func escaping() async throws {
        let hostile = "<script>alert('x')</script> & \"quotes\" <img src=x onerror=y>"
        try await Self.withFixture(purpose: hostile) { f in
            let page = try f.client.get(f.link())
            #expect(page.status == 200)
            #expect(!page.body.contains("<script>"))
            #expect(!page.body.contains("<img"))
            #expect(
                page.body.contains(
                    "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot; &lt;img src=x onerror=y&gt;"
                ))
        }
    }
}
