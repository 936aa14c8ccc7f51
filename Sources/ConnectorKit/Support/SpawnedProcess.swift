import CProcessSpawn
import Foundation
import Glibc

/// A child process that its owner starts with `posix_spawn` and reaps itself, by its own pid.
///
/// Why not Foundation's `Process`: on Linux its one reaper thread blocks in `waitpid` on a child
/// whose exit socket closed early (a program that closes the descriptors it inherited), and no
/// other child's exit is noticed until that one ends: one exec plugin could hold up a daemon's
/// drain for as long as it runs. Here the child inherits exactly its three standard streams, and
/// whether it ended is asked of the kernel (`waitpid` with `WNOHANG`) when the owner asks.
public final class SpawnedProcess: Sendable {
    /// How the child ended.
    public enum Ending: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        /// The exit code, or the signal's number (as Foundation's `terminationStatus`).
        public var code: Int32 {
            switch self {
            case .exited(let c), .signalled(let c): c
            }
        }

        public var description: String {
            switch self {
            case .exited(let c): "exited with status \(c)"
            case .signalled(let s): "killed by signal \(s)"
            }
        }
    }

    public struct StartError: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var directory: String?
        public var errno: Int32
        public var description: String {
            "cannot start \(path)\(directory.map { " in \($0)" } ?? ""): \(String(cString: strerror(errno)))"
        }
    }

    public let pid: pid_t
    /// Set once, when the child is reaped; the pid is not ours after that.
    private let ending = Locked<Ending?>(nil)

    private init(pid: pid_t) { self.pid = pid }

    /// Starts `path` (a path, not looked up in PATH) with `arguments` after its name.
    /// - Parameters:
    ///   - environment: the child's whole environment (nil: this process's).
    ///   - input, output, error: descriptors the child gets as 0, 1 and 2 (nil: /dev/null). The
    ///     caller closes its copies of the child's ends afterwards.
    public static func spawn(_ path: String, arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
                             input: Int32? = nil, output: Int32? = nil, error: Int32? = nil) throws(StartError) -> SpawnedProcess {
        let argv = [path] + arguments
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let result = withCStrings(argv) { argvPointers in
            withCStrings(env) { envPointers in
                sluice_spawn(&pid, path, argvPointers, envPointers, directory, input ?? -1, output ?? -1, error ?? -1)
            }
        }
        guard result == 0 else { throw StartError(path: path, directory: directory, errno: result) }
        return SpawnedProcess(pid: pid)
    }

    /// How it ended, reaping it if it just did; nil while it runs.
    public var ended: Ending? {
        ending.withLock { ending in
            if ending == nil { ending = Self.reap(pid, blocking: false) }
            return ending
        }
    }

    public var isRunning: Bool { ended == nil }

    /// Sends `signal` unless the child was reaped (its pid may be another process's by then).
    public func signal(_ signal: Int32) {
        ending.withLock { ending in
            if ending == nil { _ = kill(pid, signal) }
        }
    }

    /// Waits up to `seconds` for the child to end, blocking this thread; nil if it still runs.
    public func waitForEnd(seconds: Double) -> Ending? {
        let deadline = seconds.isFinite ? Date().addingTimeInterval(seconds) : .distantFuture
        while true {
            if let e = ended { return e }
            if Date() >= deadline { return nil }
            usleep(5_000)
        }
    }

    /// Waits for the child to end, blocking this thread.
    public func waitForEnd() -> Ending {
        waitForEnd(seconds: .infinity)!
    }

    /// Waits up to `seconds` for the child to end without holding a thread; nil if it still runs.
    public func ended(within seconds: Double) async -> Ending? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let e = ended { return e }
            if Date() >= deadline { return nil }
            // A cancelled task's sleep returns at once: wait on the thread then, not in a spin.
            if Task.isCancelled { usleep(10_000) } else { try? await Task.sleep(for: .milliseconds(10)) }
        }
    }

    /// SIGTERM, up to `grace` seconds, then SIGKILL; how it ended.
    public func terminate(grace: Double) -> Ending {
        signal(SIGTERM)
        if let e = waitForEnd(seconds: grace) { return e }
        signal(SIGKILL)
        return waitForEnd()
    }

    deinit {
        // An owner that let go of a running child: reap it when it ends, so it is no zombie.
        if ending.withLock({ $0 }) == nil, Self.reap(pid, blocking: false) == nil {
            let pid = self.pid
            Thread.detachNewThread { _ = Self.reap(pid, blocking: true) }
        }
    }

    private static func reap(_ pid: pid_t, blocking: Bool) -> Ending? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if r == pid { break }
            if r == 0 { return nil }
            if errno == EINTR { continue }
            // ECHILD: not ours to wait for any more (reaped elsewhere); no status is known.
            return .exited(-1)
        }
        // <sys/wait.h>'s macros, which Swift does not import.
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
    }
}

/// NUL-terminated C strings for `body`, as the `argv`/`envp` arrays exec takes.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
