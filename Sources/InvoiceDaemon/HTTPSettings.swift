import Foundation

/// Where the daemon's HTTP server listens (`INVOICEFLOW_HTTP_ADDRESS`).
public struct HTTPListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// A host name or IP address (IPv6 without brackets).
    public var host: String
    /// The TCP port; 0 asks the system for a free one (tests).
    public var port: Int

    /// An address from its parts.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port` or `:port` (all interfaces); nil when malformed.
    public init?(parsing text: String) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon].isEmpty ? "0.0.0.0" : text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace), let number = Int(port), (0...65535).contains(number)
        else { return nil }
        self.init(host: String(host), port: number)
    }

    /// `host:port`, bracketing an IPv6 host.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The HTTP part of the configuration: where the server listens and how email action links are signed.
public struct HTTPSettings: Sendable {
    /// Where the server listens; nil when `INVOICEFLOW_HTTP_ADDRESS=off`.
    public var address: HTTPListenAddress?
    /// Whether ``address`` was configured (`INVOICEFLOW_HTTP_ADDRESS`) rather than the default.
    public var addressConfigured: Bool
    /// The configured link keys (`INVOICEFLOW_LINK_KEYS`, or its `_FILE` twin read by `Configuration.load`);
    /// nil when unset, and then ``keyring()`` keeps a generated key in ``generatedKeyFile``.
    public var linkKeys: LinkKeyring?
    /// Where a generated key is kept without configured keys: `<data dir>/link-keys`.
    public var generatedKeyFile: String
    /// How long an action link works after its mail was rendered (`INVOICEFLOW_LINK_LIFETIME_HOURS`).
    public var linkLifetime: Duration

    /// The keys this part reads.
    static let keys: [Configuration.Key] = [
        Configuration.Key(
            "INVOICEFLOW_HTTP_ADDRESS",
            "address of the HTTP server (action links, invoice card, /healthz, /metrics): host:port, [v6]:port, "
                + "or off (default 127.0.0.1:8080; put TLS in a reverse proxy in front)"),
        Configuration.Key(
            "INVOICEFLOW_LINK_KEYS",
            "keys signing email action links: id:base64,id:base64 (32+ random bytes each: openssl rand -base64 32); "
                + "the first signs, all verify, so put a new key first and drop the old one after the link lifetime; "
                + "unset: a key generated once into <data dir>/link-keys (set it when several daemons share a database)",
            secret: true),
        Configuration.Key(
            "INVOICEFLOW_LINK_LIFETIME_HOURS",
            "hours an action link works after its mail is written, 1...2160 (default 168)"),
    ]

    /// Reads the HTTP keys from merged `INVOICEFLOW_*` values.
    ///
    /// - Throws: ``ConfigurationError`` naming the key at fault.
    public init(values: [String: String], dataDirectory: String) throws(ConfigurationError) {
        func value(_ key: String) -> String? {
            guard let raw = values[key]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        generatedKeyFile = dataDirectory + "/link-keys"
        if let raw = value("INVOICEFLOW_LINK_LIFETIME_HOURS") {
            guard let hours = Int(raw), (1...2160).contains(hours) else {
                throw ConfigurationError(
                    key: "INVOICEFLOW_LINK_LIFETIME_HOURS",
                    problem: "must be a whole number from 1 to 2160, not \"\(raw)\"")
            }
            linkLifetime = .seconds(hours * 3600)
        } else {
            linkLifetime = .seconds(168 * 3600)
        }
        // One key per line is allowed, as a file given by INVOICEFLOW_LINK_KEYS_FILE holds it.
        if let text = value("INVOICEFLOW_LINK_KEYS") {
            linkKeys = try Self.keyring(text, key: "INVOICEFLOW_LINK_KEYS")
        } else {
            linkKeys = nil
        }
        let raw = values["INVOICEFLOW_HTTP_ADDRESS"]?.trimmingCharacters(in: .whitespaces) ?? ""
        addressConfigured = !raw.isEmpty
        if raw.isEmpty {
            address = HTTPListenAddress(host: "127.0.0.1", port: 8080)
        } else if raw.lowercased() == "off" {
            address = nil
        } else if let parsed = HTTPListenAddress(parsing: raw) {
            address = parsed
        } else {
            throw ConfigurationError(
                key: "INVOICEFLOW_HTTP_ADDRESS",
                problem: "must be host:port (such as 127.0.0.1:8080 or [::1]:8080) or off, not \"\(raw)\"")
        }
    }
}

extension HTTPSettings {
    static func keyring(_ text: String, key: String) throws(ConfigurationError) -> LinkKeyring {
        switch LinkKeyring.parse(text) {
        case .success(let keyring): return keyring
        case .failure(let problem): throw ConfigurationError(key: key, problem: problem.description)
        }
    }

    /// The keys that sign links: the configured ones, else the one kept in ``generatedKeyFile`` (created
    /// with mode 0600 on first use, so links survive a restart of a first-run installation).
    public func keyring() throws -> LinkKeyring {
        if let linkKeys { return linkKeys }
        let manager = FileManager.default
        if !manager.fileExists(atPath: generatedKeyFile) {
            let directory = (generatedKeyFile as NSString).deletingLastPathComponent
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let text =
                "# generated by invoiceflow: the key signing email action links (INVOICEFLOW_LINK_KEYS)\n"
                + LinkKeyring.generatedText() + "\n"
            // Created exclusively (O_EXCL): of two daemons starting at once, one writes and both read its key.
            let descriptor = open(generatedKeyFile, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if descriptor >= 0 {
                let bytes = Array(text.utf8)
                let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                close(descriptor)
                guard written == bytes.count else {
                    throw ConfigurationError(key: "INVOICEFLOW_LINK_KEYS", problem: "cannot write \(generatedKeyFile)")
                }
            }
        }
        let text = try String(contentsOfFile: generatedKeyFile, encoding: .utf8)
        return try Self.keyring(text, key: "INVOICEFLOW_LINK_KEYS")
    }

    /// The signer of links in mails under ``keyring()`` for pages at `publicURL`.
    public func actionLinks(publicURL: String) throws -> ActionLinks {
        ActionLinks(keyring: try keyring(), publicURL: publicURL, lifetime: linkLifetime)
    }
}

/// Makes the signed links of task mails: `<public URL>/a/<token>`.
public struct ActionLinks: Sendable {
    /// The keys; the first signs.
    public var keyring: LinkKeyring
    /// The base URL of the daemon's pages, without a trailing slash.
    public var publicURL: String
    /// How long a link works.
    public var lifetime: Duration

    /// A signer; `publicURL` loses any trailing slash.
    public init(keyring: LinkKeyring, publicURL: String, lifetime: Duration) {
        self.keyring = keyring
        var base = publicURL
        while base.hasSuffix("/") { base.removeLast() }
        self.publicURL = base
        self.lifetime = lifetime
    }

    /// The link that lets `recipient` act on `task` until `now + lifetime`.
    public func link(task: Int64, recipient: Int64, now: Date = Date()) -> String {
        let expiry = now.addingTimeInterval(TimeInterval(lifetime.components.seconds))
        return publicURL + "/a/"
            + ActionToken(taskID: task, recipientID: recipient, expiresAt: expiry).signed(with: keyring)
    }
}
