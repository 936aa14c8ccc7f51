#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An append-only local file whose committed length is recorded in the checkpoint.
///
/// On open, bytes past the committed length (written after the last commit, before a crash) are
/// cut off; `sync` flushes, fsyncs and returns the new length to commit. This makes a local file
/// output exactly-once under replay without a transaction.
public final class CommittedAppendFile {
    public let path: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    public private(set) var length: Int64

    /// - Parameter committedLength: the length saved in the last checkpoint, or `nil` when there is
    ///   no checkpoint (an existing file is then kept whole and appended to).
    public init(path: String, committedLength: Int64?) throws {
        self.path = path
        try FileUtilities.makeParentDirectories(of: path)
        // Outputs hold raw rows: readable by the owner only (a configured group can be given
        // access with the folder's default ACL or a chgrp; we never widen it ourselves).
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ConnectorError(.io, "cannot open \(path) for writing: \(FileUtilities.errnoText())") }
        let end = lseek(fd, 0, SEEK_END)
        if let committed = committedLength, committed < Int64(end) {
            guard ftruncate(fd, off_t(committed)) == 0 else {
                throw ConnectorError(.io, "cannot truncate \(path) to its committed length: \(FileUtilities.errnoText())")
            }
            length = committed
        } else {
            length = Int64(end)
        }
        _ = lseek(fd, off_t(length), SEEK_SET)
        buffer.reserveCapacity(1 << 20)
    }

    deinit { close(fd) }

    public func append(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    public func append(_ body: (inout [UInt8]) -> Void) throws {
        body(&buffer)
        if buffer.count >= 1 << 20 { try flush() }
    }

    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try FileUtilities.writeAll(fd, $0, path: path) }
        length += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and fsyncs; returns the length to record as committed.
    public func sync() throws -> Int64 {
        try flush()
        guard fsync(fd) == 0 else { throw ConnectorError(.io, "fsync \(path) failed: \(FileUtilities.errnoText())") }
        return length
    }
}

/// Small POSIX helpers shared by local outputs and the checkpoint store.
public enum FileUtilities {
    public static func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw ConnectorError(.io, "write to \(path) failed: \(errnoText())")
            }
            done += n
        }
    }

    /// Creates `path` and its missing parents. Folders Sluice creates for its state and outputs are
    /// private (0700) unless a caller asks otherwise (e.g. a staging folder's `move_to`).
    public static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw ConnectorError(.io, "cannot create directory \(current): \(errnoText())")
            }
        }
    }

    public static func makeParentDirectories(of path: String) throws {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        try makeDirectories(String(path[..<slash]))
    }

    /// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        try makeParentDirectories(of: path)
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ConnectorError(.checkpoint, "cannot write \(tmp): \(errnoText())") }
        do {
            try bytes.withUnsafeBytes { try writeAll(fd, $0, path: tmp) }
            guard fsync(fd) == 0 else { throw ConnectorError(.checkpoint, "fsync \(tmp) failed: \(errnoText())") }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        guard rename(tmp, path) == 0 else { throw ConnectorError(.checkpoint, "cannot rename \(tmp) to \(path): \(errnoText())") }
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        try? syncDirectory(dir.isEmpty ? "/" : dir)
    }

    /// fsyncs a folder, so that names created, renamed or removed in it survive a crash.
    public static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ConnectorError(.io, "cannot open folder \(path): \(errnoText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ConnectorError(.io, "fsync of folder \(path) failed: \(errnoText())") }
    }

    public static func readFile(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw ConnectorError(.io, "cannot read \(path): \(errnoText())")
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw ConnectorError(.io, "cannot read \(path): \(errnoText())") }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }
}
