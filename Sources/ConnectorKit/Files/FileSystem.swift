/// What the shared tailer needs from a place that holds files: a local folder, an SMB share,
/// an SFTP server. Paths are relative to the root the file system was opened on, `/`-separated.
///
/// ## Implementation requirements
/// - `listDirectory` returns the entries of one directory without recursing (the tailer walks).
/// - `read` returns at most `length` bytes starting at `offset`, fewer only at end of file; it
///   must not transfer bytes before `offset` (that is the point: only new bytes travel).
/// - Errors are `FileSystemError`s so the tailer can tell a vanished file from a broken connection.
public protocol FileSystem: Sendable {
    /// How the root is shown in logs (never with credentials), e.g. `/srv/logs` or `smb://press-01/logs`.
    var displayName: String { get }
    func listDirectory(_ path: String) async throws -> [FileEntry]
    /// The entry at `path`, or `nil` if there is none.
    func stat(_ path: String) async throws -> FileEntry?
    func read(_ path: String, offset: Int64, length: Int) async throws -> [UInt8]
    func remove(_ path: String) async throws
    /// Moves `path` into `directory` (relative to the root, or absolute where the system allows).
    func move(_ path: String, intoDirectory directory: String) async throws
    /// The tailer is done reading `path` for this run: a remote file system closes the handle it
    /// kept open between chunks (an open handle on a Windows host can block the writer).
    func finishReading(_ path: String) async
    /// The run is over (finished or failed): a remote file system may close its connection.
    func finishRun() async
    /// No run will follow: end what outlives runs (a helper process, a kept connection).
    func shutdown() async
}

extension FileSystem {
    public func finishReading(_ path: String) async {}
    public func finishRun() async {}
    public func shutdown() async {}
}

public struct FileEntry: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case file, directory, symlink, other }
    /// Relative to the file system's root.
    public var path: String
    public var kind: Kind
    public var size: Int64
    /// Seconds since the epoch.
    public var modified: Double

    public init(path: String, kind: Kind, size: Int64, modified: Double) {
        self.path = path
        self.kind = kind
        self.size = size
        self.modified = modified
    }

    public var name: Substring { path.split(separator: "/").last ?? Substring(path) }
}

public struct FileSystemError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case notFound, permissionDenied
        /// The server is unreachable, timed out or dropped the connection: retried with backoff.
        case notConnected
        /// Credentials were refused: not retried until the next scheduled run.
        case authentication
        /// The server and the pipeline's settings do not agree (protocol, share name): fix the file.
        case misconfigured
        case other
    }
    public var kind: Kind
    public var path: String
    public var message: String

    public init(_ kind: Kind, path: String, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Names a remote server sends back. A name is one path component; anything else (from a hostile
/// or broken server) could point outside the source's folder, so remote file systems skip it.
public enum RemoteName {
    /// Not empty, not `.` or `..`, no separator (`/` or Windows' `\\`) and no NUL.
    public static func isPlainComponent(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\") && !name.utf8.contains(0)
    }
}
