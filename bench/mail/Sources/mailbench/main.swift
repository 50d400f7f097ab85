// mailbench PORT CA_FILE COUNT BODY_FILE: renders one notification-sized Cyrillic message per send and
// delivers COUNT of them to 127.0.0.1:PORT over implicit TLS on one reused connection, then
// prints the rate on one line: "mailer: COUNT messages in SECONDS s, RATE msg/s".
import Foundation
import Logging
import SMTP

let arguments = CommandLine.arguments
guard arguments.count == 5, let port = Int(arguments[1]), let count = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: mailbench PORT CA_FILE COUNT BODY_FILE\n".utf8))
    exit(2)
}
let logger = Logger(label: "mailbench")
let sender = try Mailbox(displayName: "InvoiceFlow — уведомления", address: "noreply@invoiceflow.test")
var configuration = try SMTPConfiguration(url: "smtps://localhost:\(port)", caFile: arguments[2], sender: sender)
configuration.maximumMessagesPerConnection = Int.max
let client = try SMTPClient(configuration: configuration, logger: logger)
let body = try String(contentsOfFile: arguments[4], encoding: .utf8)

func message(_ number: Int) throws -> RenderedMessage {
    try MailMessage(
        from: sender, to: [Mailbox(displayName: "Иванов Иван Петрович", address: "ivan@example.test")],
        subject: "Согласуйте счёт №INV-2026-\(number) на 1 234 567,89 ₽ от ООО «Ромашка»", textBody: body,
        htmlBody: "<pre>\(body)</pre>", messageID: MessageID("bench-\(number)@invoiceflow.test"), date: Date()
    ).render()
}

// Rendering is part of the work smtplib does too (it serialises the message on every send).
_ = await client.send(try message(0))  // connect and handshake outside the timed loop, like the Python side
let started = ContinuousClock.now
for number in 1...count {
    let outcome = await client.send(try message(number))
    guard outcome.kind == .sent else {
        FileHandle.standardError.write(Data("mailbench: \(outcome)\n".utf8))
        exit(1)
    }
}
let elapsed = started.duration(to: .now)
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
await client.close()
print(String(format: "mailer: %d messages in %.2f s, %.1f msg/s", count, seconds, Double(count) / seconds))
