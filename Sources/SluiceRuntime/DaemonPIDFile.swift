import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `<state-dir>/.daemon/sluice.pid`: one daemon per state folder, found by `sluice reload`.
///
/// The daemon holds an exclusive `flock` on the file for as long as it lives. The kernel drops
/// the lock when the process ends, however it ends, so what the file says proves nothing on its
/// own: a SIGKILLed daemon that is not yet reaped (a zombie keeps its pid), or a pid reused by
/// another program after a power cut, must not keep the next daemon from starting. The file's
/// text is the holder's pid, for the tools that signal it.
public struct DaemonPIDFile: Sendable {
    public let path: String
    private let descriptor: Int32

    public static func path(stateDirectory: String) -> String { stateDirectory + "/.daemon/sluice.pid" }

    /// Where the daemon writes the address its HTTP server listens on (`127.0.0.1:9430`).
    public static func httpAddressPath(stateDirectory: String) -> String { stateDirectory + "/.daemon/http-address" }

    /// The pid of the live daemon using this state folder, if any.
    public static func runningDaemon(stateDirectory: String) -> pid_t? {
        let fd = open(path(stateDirectory: stateDirectory), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // A shared lock is granted only while no daemon holds its exclusive one.
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        guard errno == EWOULDBLOCK else { return nil }
        // The holder writes its pid just after locking: give it a moment.
        for _ in 0..<20 {
            if let pid = readPID(fd) { return pid }
            usleep(50_000)
        }
        return nil
    }

    /// Takes the state folder for this process, or throws `anotherDaemon` while a live daemon holds it.
    public static func claim(stateDirectory: String) throws(DaemonPIDFileError) -> DaemonPIDFile {
        let p = path(stateDirectory: stateDirectory)
        let folder = (p as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .cannotWrite(path: folder, reason: "\(error)")
        }
        // A few tries: `runningDaemon` holds a shared lock for an instant, and a daemon that is
        // releasing removes the file under its lock (the inode check below sees that).
        for attempt in 0..<10 {
            let fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw .cannotWrite(path: p, reason: String(cString: strerror(errno))) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let lockErrno = errno
                let holder = readPID(fd)
                close(fd)
                guard lockErrno == EWOULDBLOCK else { throw .cannotWrite(path: p, reason: String(cString: strerror(lockErrno))) }
                if attempt == 9 { throw .anotherDaemon(pid: holder, stateDirectory: stateDirectory) }
                usleep(50_000)
                continue
            }
            var opened = stat(), named = stat()
            guard fstat(fd, &opened) == 0, stat(p, &named) == 0, opened.st_ino == named.st_ino, opened.st_dev == named.st_dev else {
                close(fd)  // removed or replaced since it was opened: open the current one
                continue
            }
            let text = Array("\(getpid())\n".utf8)
            guard ftruncate(fd, 0) == 0, fchmod(fd, 0o600) == 0, pwrite(fd, text, text.count, 0) == text.count else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw .cannotWrite(path: p, reason: reason)
            }
            return DaemonPIDFile(path: p, descriptor: fd)
        }
        throw .anotherDaemon(pid: nil, stateDirectory: stateDirectory)
    }

    /// Removes the file while still holding the lock, then lets go. Call once.
    public func release() {
        unlink(path)
        close(descriptor)
    }

    private static func readPID(_ fd: Int32) -> pid_t? {
        var bytes = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &bytes, bytes.count, 0)
        guard n > 0 else { return nil }
        let text = String(decoding: bytes[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return pid_t(text).flatMap { $0 > 0 ? $0 : nil }
    }
}

public enum DaemonPIDFileError: Error, CustomStringConvertible {
    case anotherDaemon(pid: pid_t?, stateDirectory: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .anotherDaemon(let pid, let dir):
            "another sluice daemon\(pid.map { " (pid \($0))" } ?? "") uses the state folder \(dir)"
        case .cannotWrite(let path, let reason):
            "cannot write \(path): \(reason)"
        }
    }
}
