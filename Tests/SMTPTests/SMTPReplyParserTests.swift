import Testing

@testable import SMTP

@Suite("SMTP reply parser, capabilities and outcome classes")
struct SMTPReplyParserTests {
    private func parse(_ text: String) throws -> [SMTPReply] {
        var parser = SMTPReplyParser()
        parser.feed(Array(text.utf8))
        var replies: [SMTPReply] = []
        while let reply = try parser.nextReply() { replies.append(reply) }
        return replies
    }

    @Test("A multi-line EHLO reply becomes one reply with every line")
    func multiLine() throws {
        let replies = try parse("250-smtp.test Hello\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 HELP\r\n")
        #expect(replies == [SMTPReply(code: 250, lines: ["smtp.test Hello", "SIZE 1000", "8BITMIME", "HELP"])])
    }

    @Test(
        "Enhanced status codes are split off only when they match the reply class",
        arguments: [
            ("451 4.3.0 Try again later\r\n", 451, "4.3.0", ["Try again later"]),
            ("550 5.1.1 No such user\r\n", 550, "5.1.1", ["No such user"]),
            ("250 2.0.0 Queued as 42\r\n", 250, "2.0.0", ["Queued as 42"]),
            ("250 5.1.1 looks like a code\r\n", 250, nil, ["5.1.1 looks like a code"]),
            ("250 2.0 not a code\r\n", 250, nil, ["2.0 not a code"]),
            ("250 2.1000.0 detail too long\r\n", 250, nil, ["2.1000.0 detail too long"]),
            ("550-5.7.1 first\r\n550 5.7.1 second\r\n", 550, "5.7.1", ["first", "second"]),
        ] as [(String, Int, String?, [String])]
    )
    func enhancedCodes(text: String, code: Int, enhanced: String?, lines: [String]) throws {
        let reply = try #require(try parse(text).first)
        #expect(reply.code == code)
        #expect(reply.enhancedStatus?.description == enhanced)
        #expect(reply.lines == lines)
    }

    @Test("Bytes arriving one at a time give the same replies, and only when complete")
    func byteByByte() throws {
        let text = "220 ready\r\n250-a\r\n250 b\r\n354 go ahead\r\n"
        var parser = SMTPReplyParser()
        var replies: [SMTPReply] = []
        for byte in text.utf8 {
            parser.feed([byte])
            if let reply = try parser.nextReply() { replies.append(reply) }
        }
        #expect(replies.map(\.code) == [220, 250, 354])
        #expect(replies[1].lines == ["a", "b"])
        #expect(!parser.hasUnconsumedBytes)
    }

    @Test("A bare code and a bare LF line end are accepted")
    func lenientForms() throws {
        #expect(try parse("250\r\n") == [SMTPReply(code: 250, lines: [""])])
        #expect(try parse("221 bye\n").map(\.code) == [221])
    }

    @Test("Unconsumed bytes after a reply are visible (the STARTTLS injection check)")
    func unconsumedBytes() throws {
        var parser = SMTPReplyParser()
        parser.feed(Array("220 ready\r\n250 injected".utf8))
        #expect(try parser.nextReply()?.code == 220)
        #expect(parser.hasUnconsumedBytes)
    }

    @Test(
        "Malformed replies are refused",
        arguments: [
            "hello\r\n", "25\r\n", "250x\r\n", "650 six hundred\r\n", "150 one hundred\r\n",
            "250-a\r\n251 b\r\n", "abc def\r\n", "2 5 0\r\n",
        ]
    )
    func malformed(text: String) {
        #expect(throws: MalformedReply.self) { try parse(text) }
    }

    @Test("An endless line is refused instead of growing the buffer")
    func endlessLine() {
        var parser = SMTPReplyParser()
        parser.feed(Array(repeating: UInt8(ascii: "9"), count: SMTPReplyParser.maximumLineLength + 10))
        #expect(throws: MalformedReply.self) { try parser.nextReply() }
    }

    @Test("EHLO keywords and parameters are parsed case-insensitively")
    func capabilities() throws {
        let reply = try #require(
            try parse(
                "250-smtp.test\r\n250-size 1000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-PIPELINING\r\n"
                    + "250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN login\r\n250-AUTH=CRAM-MD5\r\n250 STARTTLS\r\n"
            ).first)
        let capabilities = SMTPCapabilities(ehloReply: reply)
        #expect(capabilities.maximumMessageSize == 1000)
        #expect(capabilities.eightBitMIME && capabilities.smtpUTF8 && capabilities.pipelining)
        #expect(capabilities.enhancedStatusCodes && capabilities.startTLS)
        #expect(capabilities.authenticationMechanisms == ["PLAIN", "LOGIN", "CRAM-MD5"])
    }

    @Test("A server announcing little has little")
    func sparseCapabilities() throws {
        let reply = try #require(try parse("250-smtp.test\r\n250 SIZE\r\n").first)
        let capabilities = SMTPCapabilities(ehloReply: reply)
        #expect(capabilities.maximumMessageSize == 0)
        #expect(!capabilities.startTLS && !capabilities.eightBitMIME && !capabilities.pipelining)
        #expect(capabilities.authenticationMechanisms.isEmpty)
    }

    @Test(
        "Replies map to outcome classes",
        arguments: [
            (250, SMTPPhase.finalDot, DeliveryOutcome.Kind.sent),
            (451, .finalDot, .transient),
            (421, .mailFrom, .transient),
            (452, .recipient, .transient),
            (552, .recipient, .transient),
            (552, .finalDot, .permanent),
            (550, .recipient, .permanent),
            (554, .finalDot, .permanent),
            (553, .mailFrom, .permanent),
            (530, .mailFrom, .configuration),
            (535, .authentication, .configuration),
            (538, .authentication, .configuration),
            (504, .authentication, .configuration),
            (454, .authentication, .transient),
        ] as [(Int, SMTPPhase, DeliveryOutcome.Kind)]
    )
    func classification(code: Int, phase: SMTPPhase, kind: DeliveryOutcome.Kind) {
        #expect(DeliveryOutcome.classify(SMTPReply(code: code, lines: ["x"]), in: phase) == kind)
    }
}
