import ConnectorKit
import CoreConnectors
import Foundation

/// The pipe protocol between the daemon and an SMB helper process (`sluice smb-helper`).
///
/// libsmbclient is not thread-safe, so a process has one SMB thread, and one host that stops
/// answering (an XP PC that hangs) would hold every other SMB pipeline behind it. Each SMB source
/// of the daemon therefore talks to a helper process of its own; the parent waits for an answer
/// with a deadline and kills a helper that is stuck.
///
/// Frames both ways: a 4-byte big-endian length, a JSON header of that length, then `payload`
/// bytes of file content (answers to `read` only). The password travels in the first frame on
/// the pipe, never in the helper's arguments or environment.
enum SMBHelperProtocol {
    struct Request: Codable {
        enum Op: String, Codable { case open, list, stat, read, finishReading, remove, move, endRun }
        var op: Op
        var path: String = ""
        var offset: Int64 = 0
        var length: Int = 0
        var directory: String = ""
        // `open` only:
        var url: String = ""
        var protocols: String = ""
        var user: String = ""
        var domain: String = ""
        var password: String = ""
        var guest: Bool = false
        var encryption: String = ""
        var timeout: Double = 30
    }

    struct Entry: Codable {
        var name: String
        var kind: String
        var size: Int64
        var modified: Double
    }

    struct Failure: Codable {
        var kind: String
        var share: String
        var path: String
        var code: Int32
        var message: String
    }

    struct Response: Codable {
        var error: Failure?
        var entries: [Entry]?
        var entry: Entry?
        var payload: Int = 0
        var bytesRead: Int64 = 0
    }

    static let maxHeader = 64 << 20

    static func kindName(_ k: FileEntry.Kind) -> String {
        switch k {
        case .file: "file"
        case .directory: "directory"
        case .symlink: "symlink"
        case .other: "other"
        }
    }

    static func kind(_ name: String) -> FileEntry.Kind {
        switch name {
        case "file": .file
        case "directory": .directory
        case "symlink": .symlink
        default: .other
        }
    }

    static func errorKindName(_ k: SMBError.Kind) -> String {
        switch k {
        case .authenticationFailed: "authenticationFailed"
        case .shareNotFound: "shareNotFound"
        case .notFound: "notFound"
        case .permissionDenied: "permissionDenied"
        case .hostUnreachable: "hostUnreachable"
        case .protocolRefused: "protocolRefused"
        case .timeout: "timeout"
        case .connectionLost: "connectionLost"
        case .other: "other"
        }
    }

    static func errorKind(_ name: String) -> SMBError.Kind {
        switch name {
        case "authenticationFailed": .authenticationFailed
        case "shareNotFound": .shareNotFound
        case "notFound": .notFound
        case "permissionDenied": .permissionDenied
        case "hostUnreachable": .hostUnreachable
        case "protocolRefused": .protocolRefused
        case "timeout": .timeout
        case "connectionLost": .connectionLost
        default: .other
        }
    }

    /// The length and JSON of one frame's header (its payload follows it on the pipe).
    static func header(_ header: some Encodable, payload: Int = 0) -> [UInt8] {
        let json = (try? JSONEncoder().encode(header)).map(Array.init) ?? Array("{}".utf8)
        let n = UInt32(json.count)
        return [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + json
    }

    /// Writes a frame: its header, then the payload as it is (a read's megabyte is not copied
    /// into one buffer with the header first).
    static func writeFrame(_ fd: Int32, _ frameHeader: some Encodable, payload: [UInt8] = []) throws(PipeError) {
        try writeAll(fd, header(frameHeader))
        if !payload.isEmpty { try writeAll(fd, payload) }
    }

    enum PipeError: Error { case closed, timedOut, malformed(String), io(String) }

    /// Writes everything (EINTR retried).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(PipeError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { throw .closed }
                throw .io(String(cString: strerror(errno)))
            }
            done += n
        }
    }

    /// Asks the kernel for a pipe buffer of `bytes` (F_SETPIPE_SZ), so a whole read's answer
    /// goes through in one write instead of sixteen 64 KiB turns. Best effort: past the user's
    /// pipe quota (/proc/sys/fs/pipe-user-pages-soft) the default stays.
    static func enlarge(pipe fd: Int32, to bytes: Int32 = 1 << 20) {
        let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ (F_LINUX_SPECIFIC_BASE + 7); not exported to Swift by Glibc
        _ = fcntl(fd, setPipeSize, bytes)
    }

    /// Reads exactly `count` bytes, waiting at most until `deadline` (nil: no limit).
    static func readExactly(_ fd: Int32, _ count: Int, deadline: Date?) throws(PipeError) -> [UInt8] {
        var failure: PipeError?
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, done in
            done = 0
            do throws(PipeError) { try fill(buffer, fd, count, &done, deadline) } catch { failure = error }
        }
        if let failure { throw failure }
        return out
    }

    private static func fill(_ out: UnsafeMutableBufferPointer<UInt8>, _ fd: Int32, _ count: Int, _ done: inout Int, _ deadline: Date?) throws(PipeError) {
        while done < count {
            if let deadline {
                let ms = Int32(max(0, min(Double(Int32.max), deadline.timeIntervalSinceNow * 1000)))
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let r = poll(&p, 1, ms)
                if r < 0 { if errno == EINTR { continue }; throw .io(String(cString: strerror(errno))) }
                if r == 0 { throw .timedOut }
            }
            let n = read(fd, out.baseAddress! + done, count - done)
            if n < 0 { if errno == EINTR { continue }; throw .io(String(cString: strerror(errno))) }
            if n == 0 { throw .closed }
            done += n
        }
    }

    static func readFrame<T: Decodable>(_ type: T.Type, from fd: Int32, deadline: Date?) throws(PipeError) -> T {
        let size = try readExactly(fd, 4, deadline: deadline)
        let n = Int(size[0]) << 24 | Int(size[1]) << 16 | Int(size[2]) << 8 | Int(size[3])
        guard n <= maxHeader else { throw .malformed("header of \(n) bytes") }
        let json = try readExactly(fd, n, deadline: deadline)
        do { return try JSONDecoder().decode(T.self, from: Data(json)) } catch { throw .malformed("\(error)") }
    }
}
