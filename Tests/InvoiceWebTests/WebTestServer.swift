import Foundation
import InvoiceDaemon
import InvoiceTestSupport
import Logging
import PostgresClient
import ServiceLifecycle
import Testing

@testable import InvoiceWeb

#if canImport(Glibc)
    import Glibc
#endif

/// The real HTTP server of the daemon on an ephemeral loopback port, over a test database.
enum WebTestServer {
    /// A fixed test keyring (two keys, so rotation can be tested by listing one or both).
    static let oldKey = LinkKey(id: "old", secret: Array(repeating: 7, count: 32))!
    static let newKey = LinkKey(id: "new", secret: Array(repeating: 9, count: 32))!
    static let keyring = LinkKeyring([oldKey])!

    /// Starts the server for `database` (the daemon's login) with `keyring`, runs `body` with its base URL
    /// (`http://127.0.0.1:<port>`), then stops the server.
    static func run<T: Sendable>(
        database: PostgresConfiguration, keyring: LinkKeyring = keyring,
        _ body: @Sendable (String) async throws -> T
    ) async throws -> T {
        let settings = try Configuration(values: ["INVOICEFLOW_POOL_SIZE": "2"])
        // Errors only, on standard error: a page that fails with 503 says why in the test output.
        var logger = Logger(label: "invoiceflow.web.tests") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .error
        let site = WebSite(database: database, settings: settings, keyring: keyring, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = WebServer(address: HTTPListenAddress(host: "127.0.0.1", port: 0), site: site) { port in
            continuation.yield(port)
        }
        // Stopped by a graceful shutdown, as SIGTERM stops the daemon: cancelling Hummingbird with a
        // connection still open trips a NIO precondition (a writer deinited without finish()).
        let services = ServiceGroup(
            configuration: .init(services: [server], gracefulShutdownSignals: [], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await services.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw WebTestError("the server did not start") }
            do {
                let result = try await body("http://127.0.0.1:\(port)")
                await services.triggerGracefulShutdown()
                while let next = try await group.next() { _ = next }
                return result
            } catch {
                await services.triggerGracefulShutdown()
                while let next = try? await group.next() { _ = next }
                throw error
            }
        }
    }
}

struct WebTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A deliberately small HTTP/1.1 client over a plain socket: one request per connection, no redirects
/// followed, no cookies, exactly the bytes we choose — what a mail scanner or an attacker would send.
struct WebTestClient {
    struct Reply: Sendable {
        var status: Int
        var headers: [String: String]
        var body: String

        func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    var base: String

    func get(_ path: String, headers: [String: String] = [:]) throws -> Reply {
        try send("GET", path, headers: headers)
    }

    func head(_ path: String) throws -> Reply { try send("HEAD", path) }

    /// POSTs `fields` form-encoded.
    func post(_ path: String, form fields: [(String, String)], headers: [String: String] = [:]) throws -> Reply {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let body = fields.map { name, value in
            let n = name.addingPercentEncoding(withAllowedCharacters: allowed)!
            let v = value.addingPercentEncoding(withAllowedCharacters: allowed)!
            return "\(n)=\(v)"
        }.joined(separator: "&")
        var all = headers
        all["Content-Type"] = "application/x-www-form-urlencoded"
        return try send("POST", path, headers: all, body: body)
    }

    func send(_ method: String, _ path: String, headers: [String: String] = [:], body: String = "") throws -> Reply {
        guard let url = URL(string: base), let port = url.port else { throw WebTestError("bad base \(base)") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw WebTestError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw WebTestError("connect failed") }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        let bodyBytes = Array(body.utf8)
        if method == "POST" { request += "Content-Length: \(bodyBytes.count)\r\n" }
        request += "\r\n"
        let bytes = Array(request.utf8) + bodyBytes
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw WebTestError("write failed") }
            sent += n
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw WebTestError("no header end in \(text)") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw WebTestError("bad status line") }
        var replyHeaders: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            replyHeaders[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        var body = String(text[split.upperBound...])
        if replyHeaders["transfer-encoding"]?.lowercased() == "chunked" { body = Self.unchunk(body) }
        return Reply(status: status, headers: replyHeaders, body: body)
    }

    static func unchunk(_ text: String) -> String {
        var bytes = Array(text.utf8)[...]
        var result: [UInt8] = []
        while let lineEnd = bytes.firstIndex(of: UInt8(ascii: "\r")) {
            let sizeText = String(decoding: bytes[bytes.startIndex..<lineEnd], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16), size > 0 else { break }
            let start = lineEnd + 2
            result += bytes[start..<min(start + size, bytes.endIndex)]
            bytes = bytes[min(start + size + 2, bytes.endIndex)...]
        }
        return String(decoding: result, as: UTF8.self)
    }
}

/// The hidden fields and buttons of a rendered confirmation page.
struct ConfirmationForm {
    var nonce: String
    var formToken: String

    init(page: String) throws {
        func value(_ name: String) throws -> String {
            let marker = "name=\"\(name)\" value=\""
            let start = try #require(page.range(of: marker)).upperBound
            let end = try #require(page[start...].firstIndex(of: "\""))
            return String(page[start..<end])
        }
        nonce = try value("nonce")
        formToken = try value("form")
    }

    func fields(_ action: String, comment: String? = nil, delegateTo: Int64? = nil) -> [(String, String)] {
        var fields = [("nonce", nonce), ("form", formToken), ("action", action)]
        if let comment { fields.append(("comment", comment)) }
        if let delegateTo { fields.append(("delegate_to", String(delegateTo))) }
        return fields
    }
}
