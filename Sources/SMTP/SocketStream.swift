import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a read, write or connect did not complete.
enum StreamFailure: Error, Hashable {
    /// The deadline passed.
    case timedOut
    /// The peer closed the connection (EOF, reset or broken pipe).
    case closed(String)
    /// The task that owns the attempt was cancelled.
    case cancelled
    /// Any other system or TLS error.
    case failed(String)
    /// The peer's certificate did not verify; a configuration problem, not a network one.
    case certificateRejected(String)
}

/// Set from a task's cancellation handler, read by the I/O loops between poll slices.
///
/// `@unchecked Sendable` is safe: the only state is `cancelled`, read and written under `lock`.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false

    var isCancelled: Bool { lock.withLock { cancelled } }
    func cancel() { lock.withLock { cancelled = true } }
}

/// What SMTP needs from a connection: bytes in, bytes out, each wait bounded by a deadline.
protocol ByteStream: AnyObject {
    /// Reads what is available, waiting until `deadline`; an empty result never happens (EOF throws).
    func read(deadline: ContinuousClock.Instant) throws(StreamFailure) -> [UInt8]
    /// Writes all of `bytes` before `deadline`.
    func write(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(StreamFailure)
}

/// A connected non-blocking TCP socket; owns the descriptor and closes it on deinit.
final class SocketStream: ByteStream {
    let descriptor: Int32
    /// The flag of the attempt currently using the connection.
    var cancellation: CancellationFlag

    private init(descriptor: Int32, cancellation: CancellationFlag) {
        self.descriptor = descriptor
        self.cancellation = cancellation
    }

    deinit { close(descriptor) }

    /// Connects to the first address of `host` that answers before `deadline`.
    ///
    /// getaddrinfo itself cannot be given a deadline; the system resolver's own timeouts bound it.
    static func connect(
        host: String, port: Int, deadline: ContinuousClock.Instant, cancellation: CancellationFlag
    ) throws(StreamFailure) -> SocketStream {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw .failed("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastFailure = StreamFailure.failed("no address for \(host)")
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            let stream = SocketStream(descriptor: fd, cancellation: cancellation)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            #if canImport(Darwin)
                // Darwin has no MSG_NOSIGNAL; this is its per-socket equivalent.
                setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
            #endif
            do {
                if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
                    guard errno == EINPROGRESS else { throw StreamFailure.closed(Self.errorText(errno)) }
                    try stream.wait(for: Int16(POLLOUT), deadline: deadline)
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                    guard error == 0 else { throw StreamFailure.closed(Self.errorText(error)) }
                }
                return stream
            } catch let failure as StreamFailure {
                if failure == .cancelled || failure == .timedOut { throw failure }
                lastFailure = failure
            } catch {
                lastFailure = .failed("\(error)")
            }
        }
        throw lastFailure
    }

    /// Waits for `events` in slices, so that cancellation is noticed within 200 ms.
    func wait(for events: Int16, deadline: ContinuousClock.Instant) throws(StreamFailure) {
        while true {
            if cancellation.isCancelled { throw .cancelled }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { throw .timedOut }
            let slice = min(remaining, .milliseconds(200))
            let milliseconds = Int32(
                slice.components.seconds * 1000 + slice.components.attoseconds / 1_000_000_000_000_000)
            var descriptorSet = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&descriptorSet, 1, max(1, milliseconds))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .failed("poll: \(Self.errorText(errno))") }
        }
    }

    func read(deadline: ContinuousClock.Instant) throws(StreamFailure) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 { return Array(buffer[..<count]) }
            if count == 0 { throw .closed("the server closed the connection") }
            switch errno {
            case EAGAIN, EWOULDBLOCK: try wait(for: Int16(POLLIN), deadline: deadline)
            case EINTR: continue
            default: throw .closed(Self.errorText(errno))
            }
        }
    }

    func write(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(StreamFailure) {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a peer that went away gives EPIPE here instead of killing the process.
            let count = bytes.withUnsafeBytes {
                send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if count >= 0 {
                offset += count
                continue
            }
            switch errno {
            case EAGAIN, EWOULDBLOCK: try wait(for: Int16(POLLOUT), deadline: deadline)
            case EINTR: continue
            default: throw .closed(Self.errorText(errno))
            }
        }
    }

    /// Whether bytes are waiting in the kernel, without consuming them: after the 220 to
    /// STARTTLS the server must send nothing until our ClientHello.
    func hasPendingBytes() -> Bool {
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) > 0
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}
