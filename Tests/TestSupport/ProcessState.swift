import Foundation

/// Whether a child has ended, as the kernel says, not as Foundation last noticed.
///
/// Foundation's `Process.isRunning` turns false only when its one reaper thread has handled the
/// exit, and that thread waits (blocking) on any child whose exit socket closed early: a child
/// that closes the descriptors it inherited holds up the news of every other child's exit for as
/// long as it runs. A test that waits with a time limit reads `/proc` instead; the zombie stays
/// for Foundation to reap (so its pid cannot be reused while the test holds it).
extension Process {
    /// True until the child has exited (a zombie or reaped counts as ended).
    public var isAlive: Bool {
        guard isRunning else { return false }
        switch Self.procStat(processIdentifier) {
        case .gone: return false
        case .unreadable: return true
        case .fields(let f): return f.first != "Z"
        }
    }

    /// The state letter of `/proc/<pid>/stat` (R running, S sleeping, D in the kernel, Z ended),
    /// or "gone" once reaped: what a late child was doing, for a report.
    public var procState: String {
        switch Self.procStat(processIdentifier) {
        case .gone: "gone"
        case .unreadable: "unreadable"
        case .fields(let f): f.first.map(String.init) ?? "unreadable"
        }
    }

    /// The status as Foundation reports it (the exit code, or the signal that ended it) once the
    /// child has ended; nil while it runs. Never waits for Foundation's reaper.
    public var endedStatus: Int32? {
        if !isRunning { return terminationStatus }
        switch Self.procStat(processIdentifier) {
        case .unreadable:
            return nil
        case .gone:
            // Reaped just now: Foundation sets its status in the same step.
            let deadline = Date().addingTimeInterval(5)
            while isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            return isRunning ? nil : terminationStatus
        case .fields(let fields):
            // Field 52 of /proc/<pid>/stat, the wait status (the 50th after the state's field 3).
            guard fields.first == "Z", fields.count > 49, let wait = Int32(fields[49]) else { return nil }
            return wait & 0x7F == 0 ? (wait >> 8) & 0xFF : wait & 0x7F
        }
    }

    /// Waits until the child has ended and returns `endedStatus` (unlike `waitUntilExit`, not
    /// held up by Foundation's reaper).
    @discardableResult
    public func waitForEnd() -> Int32 {
        while true {
            if let status = endedStatus { return status }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    private enum ProcStat { case fields([Substring]), gone, unreadable }

    /// `/proc/<pid>/stat` from the state field on (the name before it may hold spaces), read
    /// with plain POSIX calls (the file reports a size of 0).
    private static func procStat(_ pid: Int32) -> ProcStat {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        if fd < 0 { return errno == ENOENT || errno == ESRCH ? .gone : .unreadable }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return errno == ESRCH ? .gone : .unreadable }
            if n == 0 { break }
            count += n
        }
        let text = String(decoding: bytes[..<count], as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return .unreadable }
        return .fields(text[text.index(after: close)...].split(whereSeparator: { $0 == " " || $0 == "\n" }))
    }
}
