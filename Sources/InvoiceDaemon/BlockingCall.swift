import Foundation

/// Runs a blocking function (a subprocess, a file system walk) on a thread of its own and awaits its
/// result, so that Swift's cooperative thread pool never blocks.
func onDedicatedThread<T: Sendable>(
    named name: String, _ body: @escaping @Sendable () throws -> T
) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.name = name
        thread.start()
    }
}
