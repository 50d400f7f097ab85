import Foundation
import Testing

@testable import SMTP

/// Reads back what the renderer wrote, independently of it: unfolds header lines and decodes
/// B encoded words.
private enum HeaderReader {
    /// The physical lines of the header field `name` in `header`.
    static func lines(of name: String, in header: String) -> [String] {
        let all = header.components(separatedBy: "\r\n")
        guard let start = all.firstIndex(where: { $0.hasPrefix(name + ":") }) else { return [] }
        var result = [all[start]]
        for line in all[(start + 1)...] {
            guard line.hasPrefix(" ") || line.hasPrefix("\t") else { break }
            result.append(line)
        }
        return result
    }

    /// The encoded words of a field, each decoded on its own (so a split character fails).
    static func decodedWords(_ lines: [String]) -> [String?] {
        let text = lines.joined(separator: " ")
        let pattern = try! NSRegularExpression(pattern: "=\\?UTF-8\\?B\\?([A-Za-z0-9+/=]*)\\?=")
        let range = NSRange(text.startIndex..., in: text)
        return pattern.matches(in: text, range: range).map { match in
            let base64 = String(text[Range(match.range(at: 1), in: text)!])
            return Data(base64Encoded: base64).flatMap { String(validating: Array($0), as: UTF8.self) }
        }
    }

    static func encodedWords(_ lines: [String]) -> [String] {
        lines.joined(separator: " ").split(separator: " ").map(String.init).filter { $0.hasPrefix("=?") }
    }
}

@Suite("MIME rendering: encoded words, folding, bodies, injection")
struct MIMETests {
    static let sender = try! Mailbox(displayName: "ООО «Ромашка» — бухгалтерия", address: "noreply@example.test")

    private func message(subject: String, to: [Mailbox]? = nil, text: String = "текст", html: String? = nil)
        throws -> MailMessage
    {
        MailMessage(
            from: Self.sender, to: try to ?? [Mailbox(displayName: "Иван Петров", address: "ivan@example.test")],
            subject: subject, textBody: text, htmlBody: html, messageID: try MessageID("abc.1@example.test"),
            date: Date(timeIntervalSince1970: 1_795_000_000))
    }

    private func header(of message: MailMessage) throws -> String {
        let text = String(decoding: try message.render().bytes, as: UTF8.self)
        return String(text[..<text.range(of: "\r\n\r\n")!.lowerBound]) + "\r\n"
    }

    static let subjects: [(String, String)] =
        [
            ("long Cyrillic", String(repeating: "Согласуйте счёт на оплату поставки оборудования ", count: 5)),
            ("mixed scripts", "Счёт №42 from ACME GmbH — 東京 — مرحبا — Ελληνικά — ok"),
            ("emoji", "Оплата 💸 ✅ 👨‍👩‍👧‍👦 🇷🇺 готово 🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉"),
            ("combining marks", "Ёлка й й́ ё̈ — " + String(repeating: "е\u{0301}", count: 40)),
            ("one huge cluster", "x" + String(repeating: "\u{0301}", count: 40) + " и дальше"),
            ("ASCII with =?", "Invoice =?UTF-8?B?ZmFrZQ==?= approve? a=b"),
            ("double spaces", "Two  spaces and trailing "),
            ("plain ASCII long", String(repeating: "Approve invoice INV-2026-000042 for ACME ", count: 6)),
        ]
        + (1...50).map { ("\($0) Cyrillic letters", String(repeating: "ж", count: $0)) }
        + (40...50).map { ("\($0) Cyrillic after ASCII", "a" + String(repeating: "щ", count: $0)) }

    @Test(
        "Subjects decode to the original, in words of at most 75 characters on lines of at most 76", arguments: subjects
    )
    func subjectRoundTrip(name: String, subject: String) throws {
        let lines = HeaderReader.lines(of: "Subject", in: try header(of: message(subject: subject)))
        #expect(lines.allSatisfy { $0.utf8.count <= 76 }, "\(lines)")
        let words = HeaderReader.encodedWords(lines)
        #expect(words.allSatisfy { $0.utf8.count <= 75 })
        if words.isEmpty {
            // Plain ASCII: unfolding must give the text back.
            #expect(String(lines.joined(separator: "").dropFirst("Subject: ".count)) == subject)
        } else {
            let decoded = HeaderReader.decodedWords(lines)
            #expect(decoded.allSatisfy { $0 != nil }, "an encoded word holds part of a character")
            #expect(decoded.compactMap { $0 }.joined() == subject)
        }
    }

    @Test("Words end between grapheme clusters whenever a cluster fits a word", arguments: subjects.prefix(4))
    func graphemeBoundaries(name: String, subject: String) throws {
        let lines = HeaderReader.lines(of: "Subject", in: try header(of: message(subject: subject)))
        let pieces = HeaderReader.decodedWords(lines).compactMap { $0 }
        #expect(pieces.map(\.count).reduce(0, +) == subject.count)
    }

    @Test("A Cyrillic display name is encoded and the address folded onto its own line when needed")
    func fromHeader() throws {
        let head = try header(of: message(subject: "s"))
        let from = HeaderReader.lines(of: "From", in: head)
        #expect(from.allSatisfy { $0.utf8.count <= 76 })
        #expect(from.joined().hasSuffix("<noreply@example.test>"))
        #expect(HeaderReader.decodedWords(from).compactMap { $0 }.joined() == "ООО «Ромашка» — бухгалтерия")
    }

    @Test("ASCII display names use atoms or a quoted string; several recipients are comma separated")
    func asciiNames() throws {
        let to = [
            try Mailbox(displayName: "Ann Smith", address: "ann@example.test"),
            try Mailbox(displayName: "Smith, \"Bob\" \\ Jr.", address: "bob@example.test"),
            try Mailbox(address: "carol@example.test"),
        ]
        let lines = HeaderReader.lines(of: "To", in: try header(of: message(subject: "s", to: to)))
        #expect(
            lines.joined(separator: "\r\n").replacingOccurrences(of: "\r\n ", with: " ")
                == #"To: Ann Smith <ann@example.test>, "Smith, \"Bob\" \\ Jr." <bob@example.test>, carol@example.test"#)
    }

    @Test("The required headers are present, with an English UTC date")
    func requiredHeaders() throws {
        let head = try header(of: message(subject: "s"))
        #expect(head.hasPrefix("Date: Wed, 18 Nov 2026 11:06:40 +0000\r\n"))
        for field in ["Message-ID: <abc.1@example.test>", "MIME-Version: 1.0", "Auto-Submitted: auto-generated"] {
            #expect(head.contains("\r\n" + field + "\r\n"), "\(field)")
        }
    }

    @Test("Text and HTML become multipart/alternative, plain text first")
    func multipart() throws {
        let rendered = try message(subject: "s", text: "plain", html: "<p>html</p>").render()
        let text = String(decoding: rendered.bytes, as: UTF8.self)
        let plainAt = try #require(text.range(of: "Content-Type: text/plain; charset=utf-8"))
        let htmlAt = try #require(text.range(of: "Content-Type: text/html; charset=utf-8"))
        #expect(text.contains("Content-Type: multipart/alternative;\r\n boundary=\"=_invoiceflow_"))
        #expect(plainAt.lowerBound < htmlAt.lowerBound)
        #expect(rendered.bytes.allSatisfy { $0 < 0x80 })
    }

    @Test("Rendering is deterministic, so a re-render of a stored message gives the same bytes")
    func deterministic() throws {
        let message = try message(subject: "Счёт", text: "текст", html: "<p>текст</p>")
        #expect(try message.render() == message.render())
    }

    static let bodies: [String] = [
        "Short ASCII line.",
        String(repeating: "word ", count: 100),
        "trailing space \nand tab\t\nend",
        "= signs = everywhere ==== and =3D",
        "Cyrillic mostly: " + String(repeating: "счёт на оплату ", count: 30),
        "mostly ASCII with one ё " + String(repeating: "x", count: 200),
        ".\n..\n.leading dot\nbare\rCR and CRLF\r\nend",
        String(repeating: "é", count: 100),
    ]

    @Test(
        "Every line end becomes CRLF and the text ends in one",
        arguments: [
            ("", ""), ("a", "a\r\n"), ("a\n", "a\r\n"), ("\n", "\r\n"), ("a\n\n", "a\r\n\r\n"),
            ("a\r\nb\rc\nd", "a\r\nb\r\nc\r\nd\r\n"), ("x\r\r\n", "x\r\n\r\n"), ("a\r", "a\r\n"),
            ("счёт\nоплата", "счёт\r\nоплата\r\n"),
        ])
    func normalisedLines(text: String, expected: String) {
        #expect(Array(BodyEncoding.normalisedLines(text).utf8) == Array(expected.utf8))
    }

    @Test("Quoted-printable keeps lines within 76, no trailing whitespace, and decodes back", arguments: bodies)
    func quotedPrintable(body: String) throws {
        let encoded = BodyEncoding.quotedPrintable(Array(BodyEncoding.normalisedLines(body).utf8))
        let lines = encoded.components(separatedBy: "\r\n").dropLast()
        #expect(lines.allSatisfy { $0.utf8.count <= 76 })
        #expect(lines.allSatisfy { $0.last != " " && $0.last != "\t" })
        #expect(Self.decodeQuotedPrintable(encoded) == BodyEncoding.normalisedLines(body))
    }

    @Test("Base64 bodies use lines of 76 and decode back", arguments: bodies)
    func base64(body: String) throws {
        let bytes = Array(BodyEncoding.normalisedLines(body).utf8)
        let encoded = BodyEncoding.base64(bytes)
        let lines = encoded.components(separatedBy: "\r\n").dropLast()
        #expect(lines.allSatisfy { $0.utf8.count <= 76 })
        #expect(Data(base64Encoded: lines.joined()) == Data(bytes))
    }

    static func decodeQuotedPrintable(_ text: String) -> String {
        var bytes: [UInt8] = []
        let input = Array(text.replacingOccurrences(of: "=\r\n", with: "").utf8)
        var index = 0
        while index < input.count {
            if input[index] == UInt8(ascii: "="), index + 2 < input.count,
                let value = UInt8(String(decoding: input[(index + 1)...(index + 2)], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(input[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test(
        "Dot-stuffing doubles leading dots, normalises line ends and terminates",
        arguments: [
            ("a\r\n.b\r\n", "a\r\n..b\r\n.\r\n"),
            (".\r\n", "..\r\n.\r\n"),
            ("..x", "...x\r\n.\r\n"),
            ("no line end", "no line end\r\n.\r\n"),
            ("bare\nLF\rCR", "bare\r\nLF\r\nCR\r\n.\r\n"),
            ("a.b\r\n x.\r\n", "a.b\r\n x.\r\n.\r\n"),
            ("\r\n.\r\n", "\r\n..\r\n.\r\n"),
            ("", ".\r\n"),
        ]
    )
    func dotStuffing(input: String, expected: String) {
        #expect(String(decoding: DotStuffing.encode(Array(input.utf8)), as: UTF8.self) == expected)
    }

    @Test(
        "Line breaks and control characters in the subject are refused",
        arguments: [
            "Hi\r\nBcc: victim@example.test", "Hi\nX: y", "Hi\rX: y", "Hi\u{0}", "Hi\u{2028}X: y", "Hi\u{85}",
            "tab\there", "Счёт\r\n",
        ]
    )
    func subjectInjection(subject: String) throws {
        #expect(throws: MessageError.headerInjection(field: "Subject")) { try message(subject: subject).render() }
    }

    @Test("Line breaks in display names are refused")
    func displayNameInjection() {
        #expect(throws: MessageError.self) {
            try Mailbox(displayName: "Eve\r\nBcc: all@example.test", address: "eve@example.test")
        }
    }

    @Test(
        "Addresses that could inject or are malformed are refused",
        arguments: [
            "a@b.test\r\nRCPT TO:<x@y.test>", "a@b.test>", "<a@b.test>", "a b@c.test", "a@b.test\n", "@b.test",
            "a@", "a..b@c.test", ".a@c.test", "a@-b.test", "a@b_c.test", "a@b..test", "ж@b.test", "a@b.test,c@d.test",
            "\"quoted\"@b.test", String(repeating: "a", count: 65) + "@b.test", "a@[127.0.0.1]",
        ]
    )
    func badAddresses(text: String) {
        #expect(throws: MessageError.self) { try EmailAddress(text) }
    }

    @Test("Ordinary addresses are accepted", arguments: ["a@b.test", "first.last+tag@sub.example.co", "x_y@localhost"])
    func goodAddresses(text: String) throws {
        #expect(try EmailAddress(text).description == text)
    }

    @Test(
        "Configured senders are parsed with or without a display name",
        arguments: [
            ("noreply@example.test", nil, "noreply@example.test"),
            ("InvoiceFlow <noreply@example.test>", "InvoiceFlow", "noreply@example.test"),
            ("\"Бухгалтерия, ООО «Ромашка»\" <buh@example.test>", "Бухгалтерия, ООО «Ромашка»", "buh@example.test"),
            ("  <bare@example.test>  ", nil, "bare@example.test"),
        ] as [(String, String?, String)]
    )
    func parsedMailbox(text: String, name: String?, address: String) throws {
        let mailbox = try Mailbox(parsing: text)
        #expect(mailbox.displayName == name)
        #expect(mailbox.address.description == address)
    }

    @Test("A configured sender cannot carry a line break")
    func parsedMailboxInjection() {
        #expect(throws: MessageError.self) { try Mailbox(parsing: "Eve\r\nBcc: x@y.test <eve@example.test>") }
        #expect(throws: MessageError.self) { try Mailbox(parsing: "Eve <eve@example.test>\r\nBcc: x@y.test") }
    }

    @Test("Extra headers cannot smuggle lines or replace ours")
    func extraHeaders() {
        #expect(throws: MessageError.self) { try HeaderField(name: "X-A\r\nBcc", value: "v") }
        #expect(throws: MessageError.self) { try HeaderField(name: "X-A:", value: "v") }
        #expect(throws: MessageError.self) { try HeaderField(name: "Bcc", value: "v") }
        #expect(throws: MessageError.self) { try HeaderField(name: "X-A", value: "v\r\nBcc: x@y.test") }
        #expect(throws: MessageError.self) { try MessageID("a@b.test>\r\nBcc: x@y.test") }
    }
}
