import ConnectorKit
import Logging

/// An SMB share folder as the tailer's `FileSystem`: list, stat and byte-range reads over one
/// libsmbclient connection.
public struct SMBFileSystem: FileSystem {
    let client: SMBClient
    let logger: Logger
    public let displayName: String

    init(client: SMBClient, logger: Logger) {
        self.client = client
        self.logger = logger
        displayName = client.endpoint.description
    }

    /// Bytes of file content read from the server since the source was made.
    public var bytesRead: Int64 { get async { await client.bytesRead } }

    public func listDirectory(_ path: String) async throws -> [FileEntry] {
        var entries: [FileEntry] = []
        for e in try await call({ try await client.list(path) }) {
            // A name is one path component. Anything else (a hostile or broken server) could
            // point outside the folder: skipped, and said.
            guard RemoteName.isPlainComponent(e.name) else {
                logger.warning("skipped a remote entry whose name is not a plain file name", metadata: ["folder": "\(displayName)/\(path)", "name": "\(e.name.debugDescription)"])
                continue
            }
            entries.append(FileEntry(path: path.isEmpty ? e.name : path + "/" + e.name, kind: e.kind, size: e.size, modified: e.modified))
        }
        return entries
    }

    public func stat(_ path: String) async throws -> FileEntry? {
        try await call({ try await client.stat(path) }).map { FileEntry(path: path, kind: $0.kind, size: $0.size, modified: $0.modified) }
    }

    public func read(_ path: String, offset: Int64, length: Int) async throws -> [UInt8] {
        try await call { try await client.read(path, offset: offset, length: length) }
    }

    public func finishReading(_ path: String) async {
        await client.finishReading(path)
    }

    public func remove(_ path: String) async throws {
        try await call { try await client.remove(path) }
    }

    public func move(_ path: String, intoDirectory directory: String) async throws {
        let target = directory.split(separator: "/").map(String.init)
        guard target.allSatisfy(RemoteName.isPlainComponent) else {
            throw FileSystemError(.misconfigured, path: path, "move_to '\(directory)' must be a folder below the source's folder, without '..'")
        }
        try await call { try await client.move(path, intoDirectory: target.joined(separator: "/")) }
    }

    private func call<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as SMBError {
            throw error.fileSystemError
        }
    }
}
