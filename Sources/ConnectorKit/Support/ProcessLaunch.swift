import Foundation
import Glibc

/// Pipes and process starts that cannot leak into another child.
///
/// Foundation's `Process` on Linux makes inheritable descriptors: `Pipe()` has no close-on-exec
/// flag, and each start makes a socket pair whose closing tells the parent that the child exited
/// (its child end is held by the child). A start on another thread between their creation and
/// this start's `posix_spawn` hands them to that other child. Then the first child's exit is seen
/// only when the other one ends too (`isRunning` stays true, `waitUntilExit` blocks), and a pipe's
/// reader never sees its end. Pipes from `pipe()` are close-on-exec from the moment they exist
/// (made under the lock), and `run(_:)` starts under the same lock, so no start sees another's
/// descriptors half made. (The child still gets its own ends: `dup2` clears the flag.)
///
/// Sluice's own children start with `SpawnedProcess`, which inherits nothing and is reaped by its
/// owner; `run(_:)` is for the places that still use `Process` (the tests, the benchmarks' tools).
public enum ProcessLaunch {
    /// A bare lock, not `Locked(())`: a zero-sized value's accesses are instrumented at the
    /// object's first word, which another thread reads unlocked (its type, to find the fields),
    /// so ThreadSanitizer reported a race on every concurrent start (two SMB helpers at once).
    private static let gate = NSLock()

    /// A pipe whose descriptors no other child inherits.
    public static func pipe() -> Pipe {
        gate.withLock {
            let pipe = Pipe()
            for fd in [pipe.fileHandleForReading.fileDescriptor, pipe.fileHandleForWriting.fileDescriptor] {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
            return pipe
        }
    }

    /// `process.run()`, with no other start, or pipe made by `pipe()`, in between.
    public static func run(_ process: Process) throws {
        try gate.withLock { try process.run() }
    }
}
