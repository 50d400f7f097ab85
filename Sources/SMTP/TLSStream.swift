internal import COpenSSL
internal import COpenSSLShims
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A configured OpenSSL client context (SSL_CTX): peer verification on, TLS 1.2 minimum, no
/// compression or renegotiation, trust from the system store or one CA file.
///
/// `@unchecked Sendable` is safe: the context is fully configured in `init` and never changed
/// afterwards; OpenSSL allows SSL_new on a configured SSL_CTX from several threads at once.
final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer

    /// OpenSSL's socket BIO writes with write(2), not send(MSG_NOSIGNAL), so a peer that
    /// vanished mid-write would raise SIGPIPE and kill the daemon. Ignoring the signal turns it
    /// into EPIPE, which we handle. Done once per process, before the first TLS connection.
    private static let sigpipeIgnored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    init(caFile: String?) throws(SMTPConfigurationError) {
        _ = Self.sigpipeIgnored
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw SMTPConfigurationError(description: "cannot create a TLS context: \(TLSContext.drainErrors())")
        }
        pointer = context
        guard invoiceflow_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw SMTPConfigurationError(description: "cannot require TLS 1.2: \(TLSContext.drainErrors())")
        }
        // The client default is SSL_VERIFY_NONE: without this a wrong-host or untrusted
        // certificate completes the handshake.
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        SSL_CTX_set_options(context, invoiceflow_SSL_client_hardening_options())
        if let caFile {
            guard SSL_CTX_load_verify_file(context, caFile) == 1 else {
                throw SMTPConfigurationError(
                    description: "cannot load the CA file \(caFile): \(TLSContext.drainErrors())")
            }
        } else {
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw SMTPConfigurationError(
                    description: "cannot load the system CA store: \(TLSContext.drainErrors())")
            }
        }
    }

    deinit { SSL_CTX_free(pointer) }

    /// Empties OpenSSL's thread-local error queue into one line.
    static func drainErrors() -> String {
        var messages: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(
                String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.isEmpty ? "no OpenSSL error" : messages.joined(separator: "; ")
    }
}

/// A TLS session over a connected socket; owns the SSL object (and through it keeps the
/// socket alive). Used from one thread at a time: OpenSSL's error queue is thread-local, so
/// every SSL call and its SSL_get_error happen in the same synchronous function.
final class TLSStream: ByteStream {
    private let ssl: OpaquePointer
    private let socket: SocketStream
    /// True until the handshake completes and again after a fatal error: OpenSSL forbids
    /// SSL_shutdown in both states.
    private var shutDown = true

    /// Performs the client handshake and verifies the server's certificate for `host`: SNI and a
    /// DNS-name check for names, an IP-address check (and no SNI, RFC 6066 §3) for literals.
    init(
        context: TLSContext, socket: SocketStream, host: String, deadline: ContinuousClock.Instant
    ) throws(StreamFailure) {
        ERR_clear_error()
        guard let ssl = SSL_new(context.pointer) else { throw .failed("SSL_new: \(TLSContext.drainErrors())") }
        self.ssl = ssl
        self.socket = socket
        guard SSL_set_fd(ssl, socket.descriptor) == 1 else { throw .failed("SSL_set_fd: \(TLSContext.drainErrors())") }
        if Self.isIPAddress(host) {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 else {
                throw .failed("cannot set the expected IP address \(host)")
            }
        } else {
            guard invoiceflow_SSL_set_tlsext_host_name(ssl, host) == 1, SSL_set1_host(ssl, host) == 1 else {
                throw .failed("cannot set the expected host name \(host)")
            }
            SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        }
        while true {
            ERR_clear_error()
            let result = SSL_connect(ssl)
            if result == 1 { break }
            let error = SSL_get_error(ssl, result)
            switch error {
            case SSL_ERROR_WANT_READ: try socket.wait(for: Int16(POLLIN), deadline: deadline)
            case SSL_ERROR_WANT_WRITE: try socket.wait(for: Int16(POLLOUT), deadline: deadline)
            default:
                let verify = SSL_get_verify_result(ssl)
                if verify != Int(X509_V_OK) {
                    throw .certificateRejected(
                        "certificate rejected for \(host): \(String(cString: X509_verify_cert_error_string(verify)))")
                }
                throw Self.failure(error, during: "TLS handshake")
            }
        }
        shutDown = false
        // Belt and braces: SSL_get_verify_result is also OK when no certificate was sent.
        guard let certificate = SSL_get1_peer_certificate(ssl) else {
            throw .certificateRejected("the server sent no certificate")
        }
        X509_free(certificate)
        guard SSL_get_verify_result(ssl) == Int(X509_V_OK) else {
            throw .certificateRejected("certificate verification failed for \(host)")
        }
    }

    deinit {
        if !shutDown {
            // One close_notify without waiting for the peer's; the socket closes right after.
            ERR_clear_error()
            SSL_shutdown(ssl)
        }
        SSL_free(ssl)
    }

    /// The negotiated protocol, such as `TLSv1.3`, for logs.
    var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    func read(deadline: ContinuousClock.Instant) throws(StreamFailure) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            ERR_clear_error()
            var count = 0
            // Reading first matters: records OpenSSL already decrypted are invisible to poll().
            let result = buffer.withUnsafeMutableBytes { SSL_read_ex(ssl, $0.baseAddress, $0.count, &count) }
            if result == 1 { return Array(buffer[..<count]) }
            let error = SSL_get_error(ssl, result)
            switch error {
            case SSL_ERROR_WANT_READ: try socket.wait(for: Int16(POLLIN), deadline: deadline)
            case SSL_ERROR_WANT_WRITE: try socket.wait(for: Int16(POLLOUT), deadline: deadline)
            case SSL_ERROR_ZERO_RETURN:
                shutDown = true
                throw .closed("the server closed the TLS session")
            default:
                shutDown = true
                throw Self.failure(error, during: "TLS read")
            }
        }
    }

    func write(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(StreamFailure) {
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            var written = 0
            // After WANT_*, OpenSSL requires the retry with the same buffer and length.
            let result = bytes.withUnsafeBytes {
                SSL_write_ex(ssl, $0.baseAddress! + offset, $0.count - offset, &written)
            }
            if result == 1 {
                offset += written
                continue
            }
            let error = SSL_get_error(ssl, result)
            switch error {
            case SSL_ERROR_WANT_READ: try socket.wait(for: Int16(POLLIN), deadline: deadline)
            case SSL_ERROR_WANT_WRITE: try socket.wait(for: Int16(POLLOUT), deadline: deadline)
            default:
                shutDown = true
                throw Self.failure(error, during: "TLS write")
            }
        }
    }

    /// SSL_ERROR_SYSCALL and SSL_ERROR_SSL after the peer vanished are connection losses
    /// (OpenSSL 3 reports a missing close_notify as SSL_ERROR_SSL); anything else is a TLS error.
    private static func failure(_ error: Int32, during operation: String) -> StreamFailure {
        let savedErrno = errno
        let queue = TLSContext.drainErrors()
        if error == SSL_ERROR_SYSCALL {
            return .closed("\(operation): \(savedErrno == 0 ? "unexpected EOF" : SocketStream.errorText(savedErrno))")
        }
        if queue.contains("unexpected eof") { return .closed("\(operation): \(queue)") }
        return .failed("\(operation): \(queue)")
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
