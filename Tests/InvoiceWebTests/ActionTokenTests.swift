import Foundation
import InvoiceDaemon
import InvoiceDomain
import SMTP
import Testing

@testable import InvoiceWeb

@Suite("Action tokens, link keys and the HTTP settings")
struct ActionTokenTests {
    static let keyA = LinkKey(id: "a", secret: Array(repeating: 1, count: 32))!
    static let keyB = LinkKey(id: "b", secret: Array(repeating: 2, count: 32))!
    static let now = Date(timeIntervalSince1970: 1_796_000_000)
    static let token = ActionToken(taskID: 17, recipientID: 7, expiresAt: now.addingTimeInterval(3600))

    @Test("a signed token verifies to its own facts")
    func roundTrip() throws {
        let keyring = try #require(LinkKeyring([Self.keyA]))
        let text = Self.token.signed(with: keyring)
        #expect(text.hasPrefix("a.17.7.1796003600."))
        #expect(try ActionToken.verify(text, with: keyring, now: Self.now) == Self.token)
    }

    @Test(
        "changing any part of a token makes it a forgery",
        arguments: [
            (0, "b"), (1, "18"), (2, "8"), (3, "1796999999"), (4, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            (4, ""), (1, "-17"),
        ])
    func tampered(part: Int, value: String) throws {
        let keyring = try #require(LinkKeyring([Self.keyA, Self.keyB]))
        var parts = Self.token.signed(with: keyring).split(separator: ".", omittingEmptySubsequences: false).map(
            String.init)
        parts[part] = value
        #expect(throws: ActionToken.Refusal.forged) {
            try ActionToken.verify(parts.joined(separator: "."), with: keyring, now: Self.now)
        }
    }

    @Test("the same signature spelled with the unused low bits of its last character set is a forgery")
    func nonCanonicalSignature() throws {
        let keyring = try #require(LinkKeyring([Self.keyA]))
        let text = Self.token.signed(with: keyring)
        // 32 bytes in 43 base64url characters: the last one carries 4 bits and 2 unused ones.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let last = try #require(text.last.flatMap { alphabet.firstIndex(of: $0) })
        #expect(last % 4 == 0, "the signer writes the canonical spelling")
        let respelled = String(text.dropLast()) + String(alphabet[last | 1])
        #expect(throws: ActionToken.Refusal.forged) {
            try ActionToken.verify(respelled, with: keyring, now: Self.now)
        }
    }

    @Test("a token past its expiry is refused as expired, not as forged")
    func expired() throws {
        let keyring = try #require(LinkKeyring([Self.keyA]))
        let text = Self.token.signed(with: keyring)
        #expect(throws: ActionToken.Refusal.expired(Self.token)) {
            try ActionToken.verify(text, with: keyring, now: Self.now.addingTimeInterval(3600))
        }
    }

    @Test("rotation: the first key signs, every listed key verifies, a removed key no longer does")
    func rotation() throws {
        let old = try #require(LinkKeyring([Self.keyA]))
        let rotated = try #require(LinkKeyring([Self.keyB, Self.keyA]))
        let newOnly = try #require(LinkKeyring([Self.keyB]))
        let oldText = Self.token.signed(with: old)
        #expect(try ActionToken.verify(oldText, with: rotated, now: Self.now) == Self.token)
        #expect(Self.token.signed(with: rotated).hasPrefix("b."))
        #expect(throws: ActionToken.Refusal.forged) { try ActionToken.verify(oldText, with: newOnly, now: Self.now) }
    }

    @Test("the stored link id is 32 hex digits, stable for one link, different for another, not the signature")
    func linkID() throws {
        let keyring = try #require(LinkKeyring([Self.keyA]))
        let text = Self.token.signed(with: keyring)
        let id = try #require(ActionToken.id(of: text, with: keyring))
        #expect(id.count == 32 && id.allSatisfy(\.isHexDigit))
        #expect(ActionToken.id(of: text, with: keyring) == id)
        let other = ActionToken(taskID: 18, recipientID: 7, expiresAt: Self.token.expiresAt).signed(with: keyring)
        #expect(ActionToken.id(of: other, with: keyring) != id)
        #expect(!text.contains(id))
    }

    @Test("a form token belongs to one link and one nonce")
    func formToken() throws {
        let keyring = try #require(LinkKeyring([Self.keyA]))
        let text = Self.token.signed(with: keyring)
        let nonce = ActionToken.newNonce()
        let form = try #require(ActionToken.formToken(for: text, nonce: nonce, with: keyring))
        #expect(ActionToken.verifyFormToken(form, for: text, nonce: nonce, with: keyring))
        #expect(!ActionToken.verifyFormToken(form, for: text, nonce: ActionToken.newNonce(), with: keyring))
        let other = ActionToken(taskID: 18, recipientID: 7, expiresAt: Self.token.expiresAt).signed(with: keyring)
        #expect(!ActionToken.verifyFormToken(form, for: other, nonce: nonce, with: keyring))
        #expect(ActionToken.newNonce() != nonce)
    }

    static let secret = Data(repeating: 3, count: 32).base64EncodedString()

    @Test(
        "link keys are parsed strictly, and the problems never quote a secret",
        arguments: [
            ("k1:\(secret)", nil),
            ("k2:\(secret), k1:\(Data(repeating: 4, count: 48).base64EncodedString())", nil),
            ("# comment\nk1:\(secret)\n", nil),
            ("", "no key given"),
            ("k1", "key 1 is not id:base64-secret"),
            ("k1:not base64!", "the secret of key \"k1\" is not base64"),
            ("k1:\(Data(repeating: 3, count: 16).base64EncodedString())", "at least 32 bytes"),
            ("bad id!:\(secret)", "needs an id"),
            ("k1:\(secret),k1:\(secret)", "two keys share an id"),
        ])
    func parseKeys(text: String, problem: String?) {
        switch LinkKeyring.parse(text) {
        case .success:
            #expect(problem == nil)
        case .failure(let failure):
            let expected = problem ?? "(none)"
            #expect(failure.description.contains(expected), "\(failure.description)")
            #expect(!failure.description.contains(Self.secret))
        }
    }

    @Test(
        "INVOICEFLOW_HTTP_ADDRESS: host:port, [v6]:port, :port or off; anything else names the key",
        arguments: [
            ("", "127.0.0.1:8080"), ("0.0.0.0:8080", "0.0.0.0:8080"), ("[::1]:9000", "[::1]:9000"),
            (":8081", "0.0.0.0:8081"), ("off", "off"), ("OFF", "off"), ("localhost:0", "localhost:0"),
            ("localhost", nil), ("1.2.3.4:99999", nil), ("a b:80", nil), ("::1:80", nil), ("[::1]9000", nil),
        ])
    func httpAddress(raw: String, expected: String?) {
        do {
            let settings = try HTTPSettings(values: ["INVOICEFLOW_HTTP_ADDRESS": raw], dataDirectory: "var")
            #expect(settings.address.map(\.description) ?? "off" == expected)
        } catch {
            #expect(expected == nil)
            #expect(error.key == "INVOICEFLOW_HTTP_ADDRESS")
        }
    }

    @Test(
        "link settings are validated with the key named",
        arguments: [
            (["INVOICEFLOW_LINK_KEYS": "k1:short"], "INVOICEFLOW_LINK_KEYS"),
            (
                ["INVOICEFLOW_LINK_KEYS": "k1:\(secret)", "INVOICEFLOW_LINK_KEYS_FILE": "/x"],
                "INVOICEFLOW_LINK_KEYS_FILE"
            ),
            (["INVOICEFLOW_LINK_KEYS_FILE": "/nonexistent/keys"], "INVOICEFLOW_LINK_KEYS_FILE"),
            (["INVOICEFLOW_LINK_LIFETIME_HOURS": "0"], "INVOICEFLOW_LINK_LIFETIME_HOURS"),
            (["INVOICEFLOW_LINK_LIFETIME_HOURS": "2161"], "INVOICEFLOW_LINK_LIFETIME_HOURS"),
            (["INVOICEFLOW_LINK_LIFETIME_HOURS": "24"], nil),
        ])
    func linkSettings(values: [String: String], key: String?) {
        do {
            // Through `load`, which also resolves `<KEY>_FILE` for secret keys.
            _ = try Configuration.load(environment: values)
            #expect(key == nil)
        } catch {
            #expect(error.key == key)
        }
    }

    @Test("the link keys may come from a file, one key per line")
    func keysFromFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "k2:\(Self.secret)\nk1:\(Data(repeating: 5, count: 32).base64EncodedString())\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        let settings = try Configuration.load(environment: ["INVOICEFLOW_LINK_KEYS_FILE": path])
        #expect(try settings.http.keyring().keys.map(\.id) == ["k2", "k1"])
    }

    @Test("without configured keys one key is generated into the data directory, private, and kept")
    func generatedKey() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("linkkeys-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let settings = try HTTPSettings(values: [:], dataDirectory: directory)
        let first = try settings.keyring()
        let second = try HTTPSettings(values: [:], dataDirectory: directory).keyring()
        #expect(first.signingKey == second.signingKey)
        #expect(first.signingKey.secret.count == 32)
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/link-keys")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("task mails carry a signed link for their recipient; without a signer the plain task path")
    func mailLink() throws {
        let keyring = try #require(LinkKeyring([Self.keyA]))
        let sender = try Mailbox(displayName: "InvoiceFlow", address: "noreply@invoiceflow.test")
        let notification = MailNotification(
            kind: .taskAssigned,
            recipient: MailRecipient(employeeID: 7, name: "Борис", address: "boris@example.org"),
            invoice: MailInvoiceFacts(
                id: 42, number: "Ч-1", counterparty: "ООО «Ромашка»", amount: .rub(100), purpose: "Уборка",
                initiator: "Анна", payingSubdivision: "Склад"),
            taskID: 17)
        let signed = try MailComposer(
            sender: sender, publicURL: "https://flow.example.ru/",
            actionLinks: ActionLinks(keyring: keyring, publicURL: "https://flow.example.ru/", lifetime: .seconds(7200)))
        let link = signed.link(for: notification, now: Self.now)
        #expect(link.hasPrefix("https://flow.example.ru/a/a.17.7."))
        // The page opens in the mail's language: the recipient's stored one (Russian when none is stored).
        let parts = link.split(separator: "?", maxSplits: 1).map(String.init)
        #expect(parts.count == 2 && parts[1] == "lang=ru")
        var english = notification
        english.recipient.locale = .en
        #expect(signed.link(for: english, now: Self.now).hasSuffix("?lang=en"))
        let verified = try ActionToken.verify(
            String(parts[0].dropFirst("https://flow.example.ru/a/".count)), with: keyring, now: Self.now)
        #expect(verified == ActionToken(taskID: 17, recipientID: 7, expiresAt: Self.now.addingTimeInterval(7200)))
        #expect(signed.content(of: notification).html.contains("https://flow.example.ru/a/a.17.7."))
        let plain = try MailComposer(sender: sender, publicURL: "https://flow.example.ru/")
        #expect(plain.link(for: notification) == "https://flow.example.ru/tasks/17")
    }

    @Test(
        "HTML escaping covers the five characters that matter",
        arguments: [
            ("plain текст", "plain текст"), ("<b>", "&lt;b&gt;"), ("a & b", "a &amp; b"),
            ("\"x\" 'y'", "&quot;x&quot; &#39;y&#39;"), ("&amp;", "&amp;amp;"),
        ])
    func escape(raw: String, escaped: String) {
        #expect(HTML.escape(raw) == escaped)
    }

    @Test("the CSP hash is the SHA-256 of the stylesheet")
    func styleHash() {
        // sha256("") in base64, a fixed point that checks the digest and the quoting.
        #expect(ContentSecurityHash.source(of: "") == "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='")
        #expect(WebPage.styleSource == ContentSecurityHash.source(of: WebPage.css))
    }
}
