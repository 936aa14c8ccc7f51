import Foundation

/// A value behind a lock, for state shared between tasks and threads (queues between stages, run
/// counters).
///
/// Not `Synchronization.Mutex`: on Linux its contended path hands the lock over inside the kernel
/// (a priority-inheriting futex), so ThreadSanitizer sees no ordering between two threads that
/// took it in turn and reports races that are not there, which would hide real ones.
/// `NSLock` is a pthread mutex, which ThreadSanitizer understands; uncontended, it costs about the
/// same, and every use here is per batch, never per row.
/// `@unchecked Sendable`: `value` is only touched while `lock` is held.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
