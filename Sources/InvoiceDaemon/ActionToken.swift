import COpenSSL
import Foundation

/// One key of ``LinkKeyring``: an id written into every token it signs, and at least 32 secret bytes.
public struct LinkKey: Sendable, Hashable {
    /// Short name of the key (letters, digits, `-`, `_`), so a token says which key to verify it with.
    public var id: String
    /// The HMAC-SHA256 key.
    public var secret: [UInt8]

    /// A key; nil when the id is not a short name or the secret is shorter than 32 bytes.
    public init?(id: String, secret: [UInt8]) {
        guard (1...16).contains(id.count),
            id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }),
            secret.count >= 32
        else { return nil }
        self.id = id
        self.secret = secret
    }
}

/// The keys that sign and verify email action links (`INVOICEFLOW_LINK_KEYS`): the first signs, every one
/// verifies, so a new key put first keeps the links already mailed working until the old one is removed.
public struct LinkKeyring: Sendable {
    /// The keys, the signing one first.
    public let keys: [LinkKey]

    /// A keyring; nil when empty or when two keys share an id.
    public init?(_ keys: [LinkKey]) {
        guard !keys.isEmpty, Set(keys.map(\.id)).count == keys.count else { return nil }
        self.keys = keys
    }

    /// Parses `id:base64,id:base64` (commas or new lines between keys; `#` comment lines allowed in files).
    ///
    /// - Returns: the keyring, or a sentence saying what is wrong (never quoting a secret).
    public static func parse(_ text: String) -> Result<LinkKeyring, LinkKeyringProblem> {
        var keys: [LinkKey] = []
        let entries = text.split(whereSeparator: { $0 == "," || $0.isNewline })
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        for (index, entry) in entries.enumerated() {
            guard let colon = entry.firstIndex(of: ":") else {
                return .failure(LinkKeyringProblem("key \(index + 1) is not id:base64-secret"))
            }
            let id = String(entry[..<colon])
            guard let secret = Data(base64Encoded: String(entry[entry.index(after: colon)...])) else {
                return .failure(LinkKeyringProblem("the secret of key \"\(id)\" is not base64"))
            }
            guard let key = LinkKey(id: id, secret: Array(secret)) else {
                return .failure(
                    LinkKeyringProblem(
                        "key \"\(id)\" needs an id of 1-16 letters, digits, - or _ and a secret of at least 32 bytes "
                            + "(openssl rand -base64 32)"))
            }
            keys.append(key)
        }
        guard let keyring = LinkKeyring(keys) else {
            return .failure(LinkKeyringProblem(keys.isEmpty ? "no key given" : "two keys share an id"))
        }
        return .success(keyring)
    }

    /// A keyring of one fresh random key, in the text form ``parse(_:)`` reads.
    public static func generatedText(id: String = "k1") -> String {
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "\(id):\(Data(secret).base64EncodedString())"
    }

    /// The key that signs new tokens.
    public var signingKey: LinkKey { keys[0] }

    /// The key named `id`, if it is still listed.
    public func key(id: String) -> LinkKey? { keys.first { $0.id == id } }
}

/// Why a ``LinkKeyring`` text cannot be used.
public struct LinkKeyringProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, without the secret.
    public var description: String

    init(_ description: String) { self.description = description }
}

/// What an email action link may do: act on one task as one recipient until it expires.
///
/// The token is `<key id>.<task id>.<recipient id>.<expiry, Unix seconds>.<HMAC-SHA256, base64url>`: its
/// facts in plain sight (nothing in them is secret) and a signature over them under a domain-separation
/// label, so a token made for one purpose never verifies for another. It is bound to the invoice's
/// version through its task: the database remembers the invoice content each task was created for and
/// refuses the link once that content changed (migration 0070).
public struct ActionToken: Sendable, Hashable {
    /// The task the link decides.
    public var taskID: Int64
    /// The employee the link was mailed to, who acts through it.
    public var recipientID: Int64
    /// When the link stops working.
    public var expiresAt: Date

    /// A token's facts.
    public init(taskID: Int64, recipientID: Int64, expiresAt: Date) {
        self.taskID = taskID
        self.recipientID = recipientID
        self.expiresAt = Date(timeIntervalSince1970: expiresAt.timeIntervalSince1970.rounded(.down))
    }

    private static let label = "invoiceflow-action-link-v1"

    /// Why a token is refused.
    public enum Refusal: Error, Sendable, Hashable {
        /// Not a token of ours at all, or its signature does not verify under any listed key.
        case forged
        /// Well signed, but past its expiry.
        case expired(ActionToken)
    }

    /// The signed text of this token (URL-safe), under the keyring's signing key.
    public func signed(with keyring: LinkKeyring) -> String {
        let key = keyring.signingKey
        let facts = "\(key.id).\(taskID).\(recipientID).\(Int64(expiresAt.timeIntervalSince1970))"
        return facts + "." + Base64URL.encode(Self.mac(key, "\(Self.label)|\(facts)"))
    }

    /// The facts of `text` if its signature verifies under a listed key and it has not expired at `now`.
    public static func verify(_ text: String, with keyring: LinkKeyring, now: Date = Date()) throws(Refusal)
        -> ActionToken
    {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 5, text.utf8.count <= 200, let key = keyring.key(id: String(parts[0])),
            let task = Int64(parts[1]), task > 0, let recipient = Int64(parts[2]), recipient > 0,
            let expiry = Int64(parts[3]), let signature = Base64URL.decode(String(parts[4])), signature.count == 32
        else { throw .forged }
        let facts = parts[0...3].joined(separator: ".")
        guard constantTimeEqual(mac(key, "\(label)|\(facts)"), signature) else { throw .forged }
        let token = ActionToken(
            taskID: task, recipientID: recipient, expiresAt: Date(timeIntervalSince1970: TimeInterval(expiry)))
        guard now < token.expiresAt else { throw .expired(token) }
        return token
    }

    /// The id the database records when the link acts: 32 hex digits derived from the signed text with a
    /// separate label, so the stored id never reveals the signature (which would re-create the link).
    public static func id(of text: String, with keyring: LinkKeyring) -> String? {
        guard let keyID = text.split(separator: ".").first, let key = keyring.key(id: String(keyID)) else { return nil }
        return mac(key, "invoiceflow-action-link-id-v1|\(text)").prefix(16).map { hex($0) }.joined()
    }

    /// The form token of one rendering of the confirmation page: HMAC of the link token and the page's
    /// nonce, so a POST is accepted only from a page this daemon rendered for this very link.
    public static func formToken(for text: String, nonce: String, with keyring: LinkKeyring) -> String? {
        guard let keyID = text.split(separator: ".").first, let key = keyring.key(id: String(keyID)) else { return nil }
        return Base64URL.encode(mac(key, "invoiceflow-action-form-v1|\(text)|\(nonce)"))
    }

    /// Whether `form` is the form token of `text` and `nonce`, compared in constant time.
    public static func verifyFormToken(_ form: String, for text: String, nonce: String, with keyring: LinkKeyring)
        -> Bool
    {
        guard let expected = formToken(for: text, nonce: nonce, with: keyring) else { return false }
        return constantTimeEqual(Array(expected.utf8), Array(form.utf8))
    }

    /// A fresh random nonce for one page rendering (128 bits, base64url).
    public static func newNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    static func mac(_ key: LinkKey, _ message: String) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let bytes = Array(message.utf8)
        let done = key.secret.withUnsafeBufferPointer { secret in
            bytes.withUnsafeBufferPointer { data in
                HMAC(
                    EVP_sha256(), secret.baseAddress, Int32(secret.count), data.baseAddress, data.count, &output,
                    &length)
            }
        }
        // HMAC-SHA256 fails only without memory; a token signed with nothing would be worse than stopping.
        precondition(done != nil && length == 32, "HMAC-SHA256 failed")
        return Array(output.prefix(32))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) }
        }
            == 0
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }
}

/// RFC 4648 §5 base64 without padding, as used in URLs and form fields.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The bytes of `text`, or nil unless `text` is their canonical encoding (RFC 4648 §3.5): the unused
    /// low bits of the last character must be zero, so a token has one spelling and a changed last
    /// character is always a different token.
    static func decode(_ text: String) -> [UInt8]? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            return nil
        }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let bytes = Data(base64Encoded: base64).map({ Array($0) }), encode(bytes) == text else { return nil }
        return bytes
    }
}

/// The `'sha256-…'` source of an inline element for a Content-Security-Policy header, so the pages can
/// allow exactly their own stylesheet and nothing else.
public enum ContentSecurityHash {
    /// `sha256-<base64 of SHA-256(text as UTF-8)>`, quoted as CSP wants it.
    public static func source(of text: String) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { data in _ = SHA256(data.baseAddress, data.count, &digest) }
        return "'sha256-\(Data(digest).base64EncodedString())'"
    }
}
