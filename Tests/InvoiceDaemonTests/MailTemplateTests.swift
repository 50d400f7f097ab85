import Foundation
import InvoiceDaemon
import InvoiceDomain
import SMTP
import Testing

@Suite("Mail templates, plurals, money and dates")
struct MailTemplateTests {
    static let moscow = TimeZone(identifier: "Europe/Moscow")!

    static func composer() throws -> MailComposer {
        try MailComposer(
            sender: Mailbox(displayName: "InvoiceFlow", address: "noreply@invoiceflow.test"),
            publicURL: "https://flow.example.ru/")
    }

    static let invoice = MailInvoiceFacts(
        id: 42, number: "Ч-100/7", counterparty: "ООО «Ромашка» <Ltd & Co>", amount: .rub(1_234_567, kopecks: 89),
        purpose: "Уборка склада", initiator: "Анна Смирнова", payingSubdivision: "Склад")

    static func notification(_ kind: MailKind, _ locale: MailLocale) -> MailNotification {
        MailNotification(
            kind: kind,
            recipient: MailRecipient(
                employeeID: 7, name: "Борис Петров", address: "boris@example.org", locale: locale, timeZone: moscow),
            invoice: kind == .digest ? nil : invoice, taskID: 17,
            dueAt: Date(timeIntervalSince1970: 1_796_050_800),  // 2026-11-30 15:00 UTC
            actor: "Вера Иванова", comment: kind == .returned || kind == .rejected ? "Нет подписанного договора" : nil,
            digest: kind == .digest
                ? [
                    MailDigestItem(invoice: invoice, dueAt: Date(timeIntervalSince1970: 1_796_050_800), overdue: true),
                    MailDigestItem(invoice: invoice, dueAt: nil, overdue: false),
                ] : [])
    }

    @Test(
        "Russian plural forms follow the CLDR rules",
        arguments: [
            (0, "0 задач"), (1, "1 задача"), (2, "2 задачи"), (4, "4 задачи"), (5, "5 задач"), (11, "11 задач"),
            (12, "12 задач"), (14, "14 задач"), (21, "21 задача"), (22, "22 задачи"), (25, "25 задач"),
            (101, "101 задача"), (111, "111 задач"), (112, "112 задач"), (1001, "1001 задача"),
        ])
    func russianPlural(count: Int, expected: String) {
        #expect(RussianPlural(one: "задача", few: "задачи", many: "задач").phrase(count) == expected)
    }

    @Test(
        "money is written the way each language reads it",
        arguments: [
            (Money.rub(1_234_567, kopecks: 89), MailLocale.ru, "1\u{00A0}234\u{00A0}567,89\u{00A0}₽"),
            (Money.rub(1_234_567, kopecks: 89), MailLocale.en, "RUB 1,234,567.89"),
            (Money.rub(999), MailLocale.ru, "999,00\u{00A0}₽"),
            (Money.rub(1000), MailLocale.en, "RUB 1,000.00"),
            (Money(minorUnits: -150, currency: .usd), MailLocale.en, "USD -1.50"),
        ])
    func money(amount: Money, locale: MailLocale, expected: String) {
        #expect(MailFormat.money(amount, locale: locale) == expected)
    }

    @Test(
        "dates are shown in the recipient's time zone with its offset",
        arguments: [
            ("Europe/Moscow", MailLocale.ru, "30.11.2026 18:00 (UTC+03:00)"),
            ("Asia/Vladivostok", MailLocale.ru, "01.12.2026 01:00 (UTC+10:00)"),
            ("Europe/London", MailLocale.en, "30 Nov 2026, 15:00 (UTC+00:00)"),
            ("America/New_York", MailLocale.en, "30 Nov 2026, 10:00 (UTC-05:00)"),
        ])
    func dates(zone: String, locale: MailLocale, expected: String) throws {
        let date = Date(timeIntervalSince1970: 1_796_050_800)
        #expect(MailFormat.moment(date, in: try #require(TimeZone(identifier: zone)), locale: locale) == expected)
    }

    @Test("every kind renders in both languages with its facts and link", arguments: MailKind.allCases)
    func everyKind(kind: MailKind) throws {
        let composer = try Self.composer()
        for locale in MailLocale.allCases {
            let content = composer.content(of: Self.notification(kind, locale))
            #expect(!content.subject.isEmpty && !content.subject.contains("{{") && !content.text.contains("{{"))
            #expect(!content.subject.contains("\n"))
            let greeting = locale == .ru ? "Здравствуйте, Борис Петров!" : "Hello Борис Петров,"
            #expect(content.text.hasPrefix(greeting + "\n"))
            #expect(content.html.contains("<html lang=\"\(locale.rawValue)\">"))
            if kind == .digest {
                #expect(content.text.contains("https://flow.example.ru/tasks\n"))
            } else {
                let amount = locale == .ru ? "1\u{00A0}234\u{00A0}567,89\u{00A0}₽" : "RUB 1,234,567.89"
                #expect(content.subject.contains("Ч-100/7"))
                #expect(content.text.contains(amount))
                #expect(content.text.contains("Уборка склада") && content.text.contains("Анна Смирнова"))
                #expect(
                    content.text.contains("flow.example.ru/tasks/17")
                        || content.text.contains("flow.example.ru/invoices/42"))
            }
            // Text is not HTML-escaped; HTML is.
            #expect(!content.text.contains("&lt;") && !content.text.contains("&amp;"))
            if kind != .digest {
                #expect(content.text.contains("ООО «Ромашка» <Ltd & Co>"))
                #expect(content.html.contains("ООО «Ромашка» &lt;Ltd &amp; Co&gt;"))
                #expect(!content.html.contains("<Ltd"))
            }
        }
    }

    @Test("a task assignment says what, how much, for whom, by when, in Russian by default")
    func taskAssignedRussian() throws {
        var notification = Self.notification(.taskAssigned, .ru)
        notification.actingFor = "Игорь Кузнецов"
        let content = try Self.composer().content(of: notification)
        #expect(
            content.subject
                == "Требуется ваше решение: счёт № Ч-100/7 от ООО «Ромашка» <Ltd & Co> на 1\u{00A0}234\u{00A0}567,89\u{00A0}₽"
        )
        #expect(content.text.contains("(вы замещаете: Игорь Кузнецов)"))
        #expect(content.text.contains("Пожалуйста, примите решение до 30.11.2026 18:00 (UTC+03:00)."))
        #expect(content.text.contains("Открыть задачу: https://flow.example.ru/tasks/17"))
        #expect(MailLocale(stored: nil) == .ru && MailLocale(stored: "de") == .ru && MailLocale(stored: "en") == .en)
    }

    @Test("a return for rework carries the comment to the initiator")
    func returnedWithComment() throws {
        let content = try Self.composer().content(of: Self.notification(.returned, .ru))
        #expect(content.subject == "Счёт № Ч-100/7 возвращён на доработку")
        #expect(content.text.contains("Комментарий: Нет подписанного договора"))
        #expect(content.html.contains("<blockquote><b>Комментарий:</b> Нет подписанного договора</blockquote>"))
        let english = try Self.composer().content(of: Self.notification(.returned, .en))
        #expect(english.text.contains("Comment: Нет подписанного договора"))
    }

    @Test(
        "the digest counts open tasks with the right plural",
        arguments: [
            (1, "InvoiceFlow: у вас 1 открытая задача"), (3, "InvoiceFlow: у вас 3 открытые задачи"),
            (5, "InvoiceFlow: у вас 5 открытых задач"), (21, "InvoiceFlow: у вас 21 открытая задача"),
        ])
    func digestSubject(count: Int, expected: String) throws {
        var notification = Self.notification(.digest, .ru)
        notification.digest = Array(
            repeating: MailDigestItem(invoice: Self.invoice, dueAt: nil, overdue: false), count: count)
        let content = try Self.composer().content(of: notification)
        #expect(content.subject == expected)
        #expect(content.text.components(separatedBy: "\n- № Ч-100/7").count == count + 1)
    }

    @Test("a digest line shows the due date and flags the overdue")
    func digestLines() throws {
        let content = try Self.composer().content(of: Self.notification(.digest, .ru))
        #expect(
            content.text.contains(
                "- № Ч-100/7 — ООО «Ромашка» <Ltd & Co>, 1\u{00A0}234\u{00A0}567,89\u{00A0}₽, срок 30.11.2026 18:00 (UTC+03:00) (просрочено)\n"
            ))
        #expect(content.text.contains("У вас 2 открытые задачи, из них просрочено: 1."))
        #expect(content.html.contains("<li>№ Ч-100/7 — ООО «Ромашка» &lt;Ltd &amp; Co&gt;"))
    }

    @Test("Message-IDs: a task's first mail is its thread root, later mails thread under it")
    func messageIDs() throws {
        let composer = try Self.composer()
        let assigned = try composer.message(for: Self.notification(.taskAssigned, .ru))
        #expect(assigned.messageID.value == "task-17@invoiceflow.test")
        #expect(assigned.inReplyTo == nil)
        let reminder = try composer.message(for: Self.notification(.reminder, .ru))
        #expect(reminder.inReplyTo?.value == "task-17@invoiceflow.test")
        #expect(reminder.references.map(\.value) == ["task-17@invoiceflow.test"])
        #expect(reminder.messageID != assigned.messageID)
        var keyed = Self.notification(.approved, .en)
        keyed.deduplicationKey = "invoice-42.approved"
        #expect(try composer.message(for: keyed).messageID.value == "invoice-42.approved@invoiceflow.test")
    }

    @Test("a counterparty name with line breaks cannot add headers")
    func headerInjection() throws {
        var notification = Self.notification(.paid, .ru)
        notification.invoice?.counterparty = "Evil\r\nBcc: victim@example.org"
        let rendered = try Self.composer().message(for: notification).render()
        let text = String(decoding: rendered.bytes, as: UTF8.self)
        let head = text.components(separatedBy: "\r\n\r\n")[0]
        #expect(!head.split(separator: "\r\n").contains { $0.hasPrefix("Bcc:") })
        #expect(rendered.envelope.recipients.map(\.description) == ["boris@example.org"])
    }

    @Test(
        "retry policy: capped exponential back-off with bounded jitter",
        arguments: [
            (1, 0.0, 30_000), (2, 0.0, 60_000), (3, 0.0, 120_000), (8, 0.0, 3_600_000), (40, 0.0, 3_600_000),
            (1, 0.999, 24_006), (8, 0.5, 3_240_000),
        ])
    func retryPolicy(attempt: Int, random: Double, expectedMilliseconds: Int64) {
        let policy = MailRetryPolicy()
        #expect(policy.delay(afterAttempt: attempt, random: random) == .milliseconds(expectedMilliseconds))
    }
}
