import Foundation
import InvoiceTestSupport
import SMTP
import Testing

@testable import InvoiceDaemon

@Suite("Mail configuration and `invoiceflow mail test`")
struct MailConfigurationTests {
    @Test("no relay: .eml files under <data dir>/mail, a local sender and link base")
    func defaults() throws {
        let settings = try Configuration.load(environment: ["INVOICEFLOW_DATA_DIR": "/srv/invoiceflow"])
        #expect(settings.mail.relay == nil)
        #expect(settings.mail.directory == "/srv/invoiceflow/mail")
        #expect(settings.mail.publicURL == "http://localhost:8080")
        #expect(try settings.mail.transport(logger: TestPostgres.silentLogger) is MailFolder)
    }

    @Test("a relay URL, sender and public URL are read and typed")
    func relay() throws {
        let settings = try Configuration.load(environment: [
            "INVOICEFLOW_SMTP_URL": "smtps://notifier:p%40ss@mail.example.ru:465",
            "INVOICEFLOW_MAIL_FROM": "\"InvoiceFlow — уведомления\" <invoiceflow@example.ru>",
            "INVOICEFLOW_MAIL_DIR": "/var/spool/invoiceflow", "INVOICEFLOW_PUBLIC_URL": "https://flow.example.ru",
        ])
        let relay = try #require(settings.mail.relay)
        #expect(relay.host == "mail.example.ru" && relay.port == 465 && relay.security == .implicitTLS)
        #expect(relay.credentials?.password == "p@ss")
        #expect(settings.mail.sender.displayName == "InvoiceFlow — уведомления")
        #expect(settings.mail.sender.address.description == "invoiceflow@example.ru")
        #expect(settings.mail.directory == "/var/spool/invoiceflow")
        #expect(Configuration.keys.first { $0.name == "INVOICEFLOW_SMTP_URL" }?.secret == true)
    }

    @Test(
        "bad mail values are refused naming the key, never echoing the password",
        arguments: [
            (["INVOICEFLOW_SMTP_URL": "smtp://u:hunter2@mail.example.ru:587"], "INVOICEFLOW_MAIL_FROM"),
            (
                ["INVOICEFLOW_SMTP_URL": "ftp://u:hunter2@mail.example.ru", "INVOICEFLOW_MAIL_FROM": "a@example.ru"],
                "INVOICEFLOW_SMTP_URL"
            ),
            (
                [
                    "INVOICEFLOW_SMTP_URL": "smtp://u:hunter2@mail.example.ru:25?tls=none",
                    "INVOICEFLOW_MAIL_FROM": "a@example.ru",
                ],
                "INVOICEFLOW_SMTP_URL"
            ),
            (["INVOICEFLOW_MAIL_FROM": "not an address"], "INVOICEFLOW_MAIL_FROM"),
            (["INVOICEFLOW_MAIL_FROM": "a@example.ru\r\nBcc: b@example.ru"], "INVOICEFLOW_MAIL_FROM"),
            (["INVOICEFLOW_SMTP_CA_FILE": "/nonexistent/ca.pem"], "INVOICEFLOW_SMTP_CA_FILE"),
            (["INVOICEFLOW_SMTP_ALLOW_PLAINTEXT": "maybe"], "INVOICEFLOW_SMTP_ALLOW_PLAINTEXT"),
            (["INVOICEFLOW_PUBLIC_URL": "flow.example.ru"], "INVOICEFLOW_PUBLIC_URL"),
        ])
    func refused(values: [String: String], key: String) {
        do {
            _ = try Configuration.load(environment: values)
            Issue.record("accepted \(values)")
        } catch {
            #expect(error.key == key)
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test(
        "`invoiceflow mail test` delivers a Cyrillic message and prints the outcome; a refusal exits 1",
        .enabled(if: SMTPTestServer.isAvailable, "aiosmtpd venv missing"))
    func mailTestCommand() async throws {
        var options = SMTPTestServer.Options()
        options.tls = .implicit
        options.requireAuthentication = true
        let server = try SMTPTestServer(options)
        func run(password: String) async throws -> (Int32, String) {
            let process = try DaemonProcess(
                arguments: ["mail", "test", "--to", "ivan@example.org"], dataDirectory: "/nonexistent",
                extraEnvironment: [
                    "INVOICEFLOW_SMTP_URL": "smtps://\(SMTPTestServer.user):\(password)@localhost:\(server.port)",
                    "INVOICEFLOW_SMTP_CA_FILE": server.caFile,
                    "INVOICEFLOW_MAIL_FROM": "InvoiceFlow <noreply@invoiceflow.test>",
                ])
            let status = try await process.waitForExit(timeout: .seconds(60))
            return (status, process.output)
        }
        let (status, output) = try await run(password: SMTPTestServer.password)
        #expect(status == 0, "\(output)")
        #expect(output.contains("sent at finalDot: 250"))
        let files = try server.deliveredMessages()
        try #require(files.count == 1)
        let decoded = try server.decode(files[0])
        #expect(decoded.subject == "Проверка почты InvoiceFlow — test message")
        #expect(decoded.text.contains("Это проверочное письмо InvoiceFlow."))
        #expect(decoded.envelope.tls && decoded.envelope.authenticated)

        let (refusedStatus, refusedOutput) = try await run(password: "wrong")
        #expect(refusedStatus == 1)
        #expect(refusedOutput.contains("configuration at authentication: 535"))
        #expect(!refusedOutput.contains("wrong@"))
        #expect(try server.deliveredMessages().count == 1)
    }
}
