import ConnectorKit
import Logging

/// A folder on an SFTP server as the tailer's `FileSystem`: list, stat and byte-range reads over
/// one SSH connection.
public struct SFTPFileSystem: FileSystem {
    let session: SSHSession
    let logger: Logger
    public let displayName: String

    init(session: SSHSession, logger: Logger) {
        self.session = session
        self.logger = logger
        displayName = session.endpoint.description
    }

    /// Bytes of file content read from the server since the source was made.
    public var bytesRead: Int64 { get async { await session.bytesRead } }

    public func listDirectory(_ path: String) async throws -> [FileEntry] {
        var entries: [FileEntry] = []
        for e in try await call({ try await session.list(path) }) {
            guard RemoteName.isPlainComponent(e.name) else {
                logger.warning("skipped a remote entry whose name is not a plain file name", metadata: ["folder": "\(displayName)/\(path)", "name": "\(e.name.debugDescription)"])
                continue
            }
            entries.append(FileEntry(path: path.isEmpty ? e.name : path + "/" + e.name, kind: e.kind, size: e.size, modified: e.modified))
        }
        return entries
    }

    public func stat(_ path: String) async throws -> FileEntry? {
        try await call({ try await session.stat(path) }).map { FileEntry(path: path, kind: $0.kind, size: $0.size, modified: $0.modified) }
    }

    public func read(_ path: String, offset: Int64, length: Int) async throws -> [UInt8] {
        try await call { try await session.read(path, offset: offset, length: length) }
    }

    public func finishReading(_ path: String) async {
        await session.finishReading(path)
    }

    /// Each run connects afresh, as rsync over ssh does: nothing stays open between runs, and no
    /// connection is left for the process's exit to tear down under libssh2's feet.
    public func finishRun() async {
        await session.disconnect()
    }

    public func remove(_ path: String) async throws {
        try await call { try await session.remove(path) }
    }

    public func move(_ path: String, intoDirectory directory: String) async throws {
        let target = directory.split(separator: "/").map(String.init)
        guard !directory.hasPrefix("/"), target.allSatisfy(RemoteName.isPlainComponent) else {
            throw FileSystemError(.misconfigured, path: path, "move_to '\(directory)' must be a folder below the source's folder, without '..'")
        }
        try await call { try await session.move(path, intoDirectory: target.joined(separator: "/")) }
    }

    private func call<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as SSHError {
            throw error.fileSystemError
        }
    }
}
