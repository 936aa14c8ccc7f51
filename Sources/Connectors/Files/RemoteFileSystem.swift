import ConnectorKit
import Logging

/// One entry of a remote folder listing, by name (the adapter makes the relative path).
public struct RemoteEntry: Sendable {
    public var name: String
    public var kind: FileEntry.Kind
    public var size: Int64
    public var modified: Double

    public init(name: String, kind: FileEntry.Kind, size: Int64, modified: Double) {
        self.name = name
        self.kind = kind
        self.size = size
        self.modified = modified
    }
}

/// A remote client's failure, as the tailer classifies it.
public protocol RemoteFileError: Error {
    var fileSystemError: FileSystemError { get }
}

/// What a remote protocol's client (the one wrapper of its C library, an actor on its own thread)
/// offers; `RemoteFileSystem` turns it into the tailer's `FileSystem`. Paths are relative to the
/// source's folder; errors are `RemoteFileError`s.
public protocol RemoteFileClient: Actor {
    /// The folder, for logs and messages (never with credentials).
    nonisolated var displayName: String { get }
    /// Bytes of file content read from the server since the client was made.
    var bytesRead: Int64 { get }
    func list(_ relative: String) throws -> [RemoteEntry]
    func stat(_ relative: String) throws -> RemoteEntry?
    /// Up to `length` bytes from `offset`, fewer only at end of file; seeks on the server.
    func read(_ relative: String, offset: Int64, length: Int) throws -> [UInt8]
    /// Closes the handle kept open between chunk reads of `relative`.
    func finishReading(_ relative: String)
    func remove(_ relative: String) throws
    /// Moves `relative` into `directory` (plain names below the folder), creating it if needed.
    func move(_ relative: String, intoDirectory directory: String) throws
    /// The engine's run is over.
    func endRun()
    /// No run will follow.
    func shutdown()
}

extension RemoteFileClient {
    public func shutdown() {}
}

/// A folder on a remote server (SMB, SFTP) as the tailer's `FileSystem`: the name checks and
/// error conversion every remote protocol needs, around its client.
public struct RemoteFileSystem<Client: RemoteFileClient>: FileSystem {
    public let client: Client
    let logger: Logger

    public init(client: Client, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public var displayName: String { client.displayName }

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

    public func finishRun() async {
        await client.endRun()
    }

    public func shutdown() async {
        await client.shutdown()
    }

    public func remove(_ path: String) async throws {
        try await call { try await client.remove(path) }
    }

    public func move(_ path: String, intoDirectory directory: String) async throws {
        let target = directory.split(separator: "/").map(String.init)
        guard !directory.hasPrefix("/"), target.allSatisfy(RemoteName.isPlainComponent) else {
            throw FileSystemError(.misconfigured, path: path, "move_to '\(directory)' must be a folder below the source's folder, without '..'")
        }
        try await call { try await client.move(path, intoDirectory: target.joined(separator: "/")) }
    }

    private func call<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as any RemoteFileError {
            throw error.fileSystemError
        }
    }
}
