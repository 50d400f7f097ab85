import Testing

@testable import SMTP

@Suite("Relay configuration from one URL")
struct SMTPConfigurationTests {
    static let sender = try! Mailbox(address: "noreply@example.test")

    @Test(
        "Accepted URLs",
        arguments: [
            (
                "smtps://user:password@mail.example.test:465", "mail.example.test", 465, TransportSecurity.implicitTLS,
                "user", "password"
            ),
            ("smtps://mail.example.test", "mail.example.test", 465, .implicitTLS, nil, nil),
            (
                "smtp://u%40corp:p%40ss%3Aw%2Frd@mail.example.test:587?tls=required", "mail.example.test", 587,
                .startTLS,
                "u@corp", "p@ss:w/rd"
            ),
            ("smtp://mail.example.test", "mail.example.test", 587, .startTLS, nil, nil),
            ("SMTP://relay.test:2525?TLS=REQUIRED", "relay.test", 2525, .startTLS, nil, nil),
            ("smtp://127.0.0.1:25?tls=none", "127.0.0.1", 25, .plaintext, nil, nil),
            ("smtps://[::1]:465", "::1", 465, .implicitTLS, nil, nil),
            (
                "smtp://%D0%BF%D0%BE%D1%87%D1%82%D0%B0:%D0%BF%D0%B0%D1%80%D0%BE%D0%BB%D1%8C@relay.test", "relay.test",
                587,
                .startTLS, "почта", "пароль"
            ),
        ] as [(String, String, Int, TransportSecurity, String?, String?)]
    )
    func accepted(url: String, host: String, port: Int, security: TransportSecurity, user: String?, password: String?)
        throws
    {
        let configuration = try SMTPConfiguration(url: url, sender: Self.sender, allowPlaintext: true)
        #expect(configuration.host == host)
        #expect(configuration.port == port)
        #expect(configuration.security == security)
        #expect(configuration.credentials?.user == user)
        #expect(configuration.credentials?.password == password)
    }

    @Test(
        "Refused URLs",
        arguments: [
            "http://mail.example.test", "smtp://", "smtp://relay.test?tls=maybe", "smtps://relay.test?tls=none",
            "smtp://relay.test?tls=required&verify=false", "smtp://relay.test:0", "not a url at all",
            "smtp://user:secret@relay.test?tls=none",
        ]
    )
    func refused(url: String) {
        #expect(throws: SMTPConfigurationError.self) {
            try SMTPConfiguration(url: url, sender: Self.sender, allowPlaintext: true)
        }
    }

    @Test("Plaintext needs explicit permission")
    func plaintextNeedsPermission() throws {
        #expect(throws: SMTPConfigurationError.self) {
            try SMTPConfiguration(url: "smtp://127.0.0.1:25?tls=none", sender: Self.sender)
        }
        #expect(
            try SMTPConfiguration(url: "smtp://127.0.0.1:25?tls=none", sender: Self.sender, allowPlaintext: true)
                .security == .plaintext)
    }

    @Test("Credentials are refused over plaintext even when plaintext is allowed, and never printed")
    func credentialsOverPlaintext() throws {
        #expect(throws: SMTPConfigurationError.self) {
            try SMTPConfiguration(
                url: "smtp://notifier:s3cret@127.0.0.1:25?tls=none", sender: Self.sender,
                allowPlaintext: true)
        }
        let configuration = try SMTPConfiguration(url: "smtps://notifier:s3cret@relay.test", sender: Self.sender)
        #expect(!"\(configuration.credentials!)".contains("s3cret"))
        #expect(!"\(configuration)".contains("s3cret"))
    }
}
