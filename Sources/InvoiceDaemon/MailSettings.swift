import Foundation
import Logging
import SMTP

/// The mail part of the configuration: the relay (or the folder used without one), the sender, and
/// the base URL of links.
public struct MailSettings: Sendable {
    /// The relay, when `INVOICEFLOW_SMTP_URL` is set; nil means "write `.eml` files into ``directory``".
    public var relay: SMTPConfiguration?
    /// The From of every mail.
    public var sender: Mailbox
    /// Where messages go without a relay (`INVOICEFLOW_MAIL_DIR`, default `<data dir>/mail`).
    public var directory: String
    /// The base URL of the daemon's pages, for links in mails.
    public var publicURL: String

    /// The keys this part reads.
    static let keys: [Configuration.Key] = [
        Configuration.Key(
            "INVOICEFLOW_SMTP_URL",
            "mail relay: smtps://user:password@host:465 or smtp://user:password@host:587?tls=required; "
                + "unset: .eml files in the mail folder", secret: true),
        Configuration.Key(
            "INVOICEFLOW_SMTP_CA_FILE", "PEM file of a private CA for the relay (default: the system store)"),
        Configuration.Key(
            "INVOICEFLOW_SMTP_ALLOW_PLAINTEXT", "true to allow smtp://host:25?tls=none to a local relay (default false)"
        ),
        Configuration.Key(
            "INVOICEFLOW_MAIL_FROM",
            "sender of every mail, e.g. \"InvoiceFlow <invoiceflow@example.ru>\" (required with a relay)"),
        Configuration.Key(
            "INVOICEFLOW_MAIL_DIR", "folder of .eml files when no relay is set (default <data dir>/mail)"),
        Configuration.Key("INVOICEFLOW_PUBLIC_URL", "base URL of links in mails (default http://localhost:8080)"),
    ]

    /// Reads the mail keys from merged `INVOICEFLOW_*` values.
    ///
    /// - Throws: ``ConfigurationError`` naming the key at fault.
    public init(values: [String: String], dataDirectory: String) throws(ConfigurationError) {
        func value(_ key: String) -> String? {
            guard let raw = values[key]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        let url = value("INVOICEFLOW_SMTP_URL")
        if let from = value("INVOICEFLOW_MAIL_FROM") {
            do {
                sender = try Self.mailbox(from)
            } catch {
                throw ConfigurationError(key: "INVOICEFLOW_MAIL_FROM", problem: "\(error)")
            }
        } else if url != nil {
            throw ConfigurationError(
                key: "INVOICEFLOW_MAIL_FROM", problem: "is required when INVOICEFLOW_SMTP_URL is set")
        } else {
            // Without a relay nothing leaves the machine; any well-formed address will do.
            sender = try! Mailbox(displayName: "InvoiceFlow", address: "invoiceflow@localhost.localdomain")
        }
        var allowPlaintext = false
        if let raw = value("INVOICEFLOW_SMTP_ALLOW_PLAINTEXT") {
            switch raw.lowercased() {
            case "true", "yes", "1": allowPlaintext = true
            case "false", "no", "0": allowPlaintext = false
            default:
                throw ConfigurationError(
                    key: "INVOICEFLOW_SMTP_ALLOW_PLAINTEXT", problem: "must be true or false, not \"\(raw)\"")
            }
        }
        let caFile = value("INVOICEFLOW_SMTP_CA_FILE")
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw ConfigurationError(key: "INVOICEFLOW_SMTP_CA_FILE", problem: "cannot read \(caFile)")
        }
        if let url {
            do {
                relay = try SMTPConfiguration(url: url, caFile: caFile, sender: sender, allowPlaintext: allowPlaintext)
            } catch {
                // The URL holds the password: the message names the problem, never the value.
                throw ConfigurationError(key: "INVOICEFLOW_SMTP_URL", problem: error.description)
            }
        } else {
            relay = nil
        }
        directory = value("INVOICEFLOW_MAIL_DIR") ?? dataDirectory + "/mail"
        let publicURL = value("INVOICEFLOW_PUBLIC_URL") ?? "http://localhost:8080"
        guard let components = URLComponents(string: publicURL), ["http", "https"].contains(components.scheme ?? ""),
            components.host?.isEmpty == false
        else {
            throw ConfigurationError(
                key: "INVOICEFLOW_PUBLIC_URL", problem: "must be an http:// or https:// URL, not \"\(publicURL)\"")
        }
        self.publicURL = publicURL
    }

    /// `Name <address>` or a bare address.
    static func mailbox(_ text: String) throws -> Mailbox {
        if let open = text.lastIndex(of: "<"), text.hasSuffix(">") {
            let name = text[..<open].trimmingCharacters(in: .whitespaces)
                .trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            let address = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
            return try Mailbox(displayName: name.isEmpty ? nil : name, address: address)
        }
        return try Mailbox(address: text)
    }

    /// The transport the daemon uses: the relay's client, or the mail folder.
    public func transport(logger: Logger) throws -> any MailTransport {
        guard let relay else { return MailFolder(directory: URL(fileURLWithPath: directory)) }
        do {
            return try SMTPClient(configuration: relay, logger: logger)
        } catch {
            throw ConfigurationError(key: "INVOICEFLOW_SMTP_CA_FILE", problem: error.description)
        }
    }
}
