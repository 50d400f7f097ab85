import ArgumentParser
import Foundation
import InvoiceDaemon
import PostgresClient
import SMTP

struct Mail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the mail relay and the outbox.",
        subcommands: [Test.self, Status.self, Resume.self, Bench.self])

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a test message (Cyrillic subject and body) through the configured relay and print the "
                + "SMTP outcome; exit 1 when it was not delivered.")

        @OptionGroup var options: SharedOptions

        @Option(name: .long, help: "The recipient's address.")
        var to: String

        func run() async throws {
            let (settings, logger) = try options.start(label: "invoiceflow.mail")
            let recipient: Mailbox
            do {
                recipient = try Mailbox(address: to)
            } catch {
                throw ValidationError("--to: \(error)")
            }
            guard let relay = settings.mail.relay else {
                // No relay: the daemon writes .eml files; so does the test, and says where.
                let message = try MailMessage(
                    from: settings.mail.sender, to: [recipient], subject: "Проверка почты InvoiceFlow — test message",
                    textBody: "Это проверочное письмо InvoiceFlow.\nThis is an InvoiceFlow test message.\n",
                    messageID: MessageID.random(domain: settings.mail.sender.address.domain), date: Date()
                ).render()
                let folder = MailFolder(directory: URL(fileURLWithPath: settings.mail.directory))
                let outcome = await folder.send(message)
                print("INVOICEFLOW_SMTP_URL is not set: nothing was sent over SMTP")
                print(outcome.detail)
                if outcome.kind != .sent { throw ExitCode.failure }
                return
            }
            print("sending to \(recipient.address) through \(relay.relayDescription) (\(relay.security.rawValue))")
            let outcome = await SMTPClient.sendTestMessage(to: recipient, configuration: relay, logger: logger)
            print(outcome.description)
            if outcome.kind != .sent { throw ExitCode.failure }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print whether the outbox is paused and how many messages are pending, due, sent and dead.")

        @OptionGroup var options: SharedOptions

        func run() async throws {
            let (settings, logger) = try options.start(label: "invoiceflow.mail")
            let database = try await DatabaseBootstrap.start(settings, logger: logger)
            let status: MailOutbox.Status
            do {
                let connection = try await PostgresConnection.connect(database.configuration, logger: logger)
                status = try await connection.run { try MailOutbox.status(on: $0) }
                await connection.close()
                await database.stop(logger: logger)
            } catch {
                await database.stop(logger: logger)
                throw error
            }
            print(status.pausedReason.map { "queue PAUSED: \($0)" } ?? "queue running")
            print("pending \(status.pending) (due now \(status.due)), sent \(status.sent), dead \(status.dead)")
            if status.pausedReason != nil { throw ExitCode.failure }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume a paused outbox once the relay configuration is fixed (audited).")

        @OptionGroup var options: SharedOptions

        @Option(name: .long, help: "Why it is safe to resume, for the audit log.")
        var comment: String?

        func run() async throws {
            let (settings, logger) = try options.start(label: "invoiceflow.mail")
            let database = try await DatabaseBootstrap.start(settings, logger: logger)
            let resumed: Bool
            do {
                let connection = try await PostgresConnection.connect(database.configuration, logger: logger)
                let comment = self.comment
                resumed = try await connection.transaction { try MailOutbox.resume(comment: comment, on: $0) }
                await connection.close()
                await database.stop(logger: logger)
            } catch {
                await database.stop(logger: logger)
                throw error
            }
            print(resumed ? "mail queue resumed" : "mail queue was not paused")
        }
    }
}

extension Mail {
    /// `scripts/bench mail` drives this: one task-assigned mail rendered once, sent `count` times over
    /// one reused connection to the configured relay; the rate goes to standard output.
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send one rendered notification COUNT times over one reused connection and print messages/s.",
            shouldDisplay: false)

        @OptionGroup var options: SharedOptions

        @Option(name: .long, help: "The recipient's address.")
        var to: String = "bench@example.org"

        @Option(name: .long, help: "How many messages.")
        var count: Int = 1000

        @Option(name: .long, help: "Write the rendered message here, for the smtplib side of the benchmark.")
        var dump: String?

        func run() async throws {
            let (settings, logger) = try options.start(label: "invoiceflow.mail")
            guard var relay = settings.mail.relay else { throw ValidationError("INVOICEFLOW_SMTP_URL is not set") }
            // One connection for the whole run, as smtplib keeps it: the per-connection cap would
            // otherwise add a TLS handshake every 100 messages to our side only.
            relay.maximumMessagesPerConnection = Int.max
            let composer = try MailComposer(sender: settings.mail.sender, publicURL: settings.mail.publicURL)
            let notification = MailNotification(
                kind: .taskAssigned,
                recipient: MailRecipient(name: "Иван Петрович Сидоров", address: to),
                invoice: MailInvoiceFacts(
                    id: 4711, number: "Ч-2026/0042", counterparty: "ООО «Медснаб»",
                    amount: .rub(1_234_567, kopecks: 89),
                    purpose: "Расходные материалы для склада, поставка декабрь 2026", initiator: "Анна Смирнова",
                    payingSubdivision: "Головной офис"),
                taskID: 17, dueAt: Date().addingTimeInterval(86_400))
            let message = try composer.message(for: notification).render()
            if let dump { try Data(message.bytes).write(to: URL(fileURLWithPath: dump)) }
            let client = try SMTPClient(configuration: relay, logger: logger)
            let clock = ContinuousClock()
            let start = clock.now
            var failures = 0
            for _ in 0..<count where await client.send(message).kind != .sent {
                failures += 1
            }
            let elapsed = clock.now - start
            await client.close()
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(
                "mailer: \(count) messages (\(message.bytes.count) bytes each) in \(String(format: "%.3f", seconds)) s")
            print("mailer msg/s: \(String(format: "%.1f", Double(count - failures) / seconds))")
            if failures > 0 {
                print("mailer failures: \(failures)")
                throw ExitCode.failure
            }
        }
    }
}
