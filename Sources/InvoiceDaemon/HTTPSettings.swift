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

/// The HTTP part of the configuration: where the server listens.
public struct HTTPSettings: Sendable {
    /// Where the server listens; nil when `INVOICEFLOW_HTTP_ADDRESS=off`.
    public var address: HTTPListenAddress?

    /// The keys this part reads.
    static let keys: [Configuration.Key] = [
        Configuration.Key(
            "INVOICEFLOW_HTTP_ADDRESS",
            "address of the HTTP server (action links, invoice card, /healthz, /metrics): host:port, [v6]:port, "
                + "or off (default 127.0.0.1:8080; put TLS in a reverse proxy in front)")
    ]

    /// Reads the HTTP keys from merged `INVOICEFLOW_*` values.
    ///
    /// - Throws: ``ConfigurationError`` naming the key at fault.
    public init(values: [String: String]) throws(ConfigurationError) {
        let raw = values["INVOICEFLOW_HTTP_ADDRESS"]?.trimmingCharacters(in: .whitespaces) ?? ""
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
