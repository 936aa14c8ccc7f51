import ConnectorKit

/// A source that emits the given batches once, each with a cursor that counts rows, so that a
/// re-run from the committed checkpoint emits nothing again.
public struct InMemorySource: Source {
    public let batches: [RecordBatch]
    public let stream: String

    public init(batches: [RecordBatch], stream: String = "memory") {
        self.batches = batches
        self.stream = stream
    }

    public func run(from checkpoint: Checkpoint, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
        let done = Int(checkpoint.files[stream]?.offset ?? 0)
        for (i, b) in batches.enumerated() where i >= done {
            if context.stop.isStopped { return }
            var cursor = FileCursor()
            cursor.offset = Int64(i + 1)
            try await emit(.records(b, file: stream, cursor: cursor))
        }
    }
}

/// A sink that keeps committed batches in memory, with a checkpoint kept alongside them.
/// `crash()` drops what was written since the last commit, as a process crash would.
public final class CollectingSink: Sink {
    private struct State {
        var committed: [RecordBatch] = []
        var pending: [RecordBatch] = []
        var checkpoint = Checkpoint()
        var commits = 0
    }
    private let state = Locked(State())

    public init() {}

    /// The checkpoint is kept with the data, like a transactional target.
    public var checkpointCustody: CheckpointCustody { .sink }

    public func open(context: SinkContext) async throws -> Checkpoint {
        state.withLock { $0.pending = []; return $0.checkpoint }
    }

    public func write(_ batch: RecordBatch) async throws -> [DeadLetter] {
        state.withLock { $0.pending.append(batch) }
        return []
    }

    public func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint {
        state.withLock {
            $0.committed += $0.pending
            $0.pending = []
            $0.checkpoint = checkpoint
            $0.commits += 1
        }
        return checkpoint
    }

    public func crash() { state.withLock { $0.pending = [] } }

    public var batches: [RecordBatch] { state.withLock { $0.committed } }
    public var commits: Int { state.withLock { $0.commits } }
    public var checkpoint: Checkpoint { state.withLock { $0.checkpoint } }
    /// Every committed row as a dictionary, in order.
    public var rows: [[String: Value]] { batches.flatMap { $0.rows() } }
}

/// A checkpoint store in memory.
public final class InMemoryCheckpointStore: CheckpointStore {
    private let value = Locked<Checkpoint?>(nil)
    public init() {}
    public func load() throws -> Checkpoint? { value.withLock { $0 } }
    public func save(_ checkpoint: Checkpoint) throws { value.withLock { $0 = checkpoint } }
}

/// Files in memory, for tailer and source tests. Counts the bytes handed out by `read`.
public final class InMemoryFileSystem: FileSystem {
    private struct State {
        var files: [String: (bytes: [UInt8], modified: Double)] = [:]
        var bytesRead: Int64 = 0
        var failReads: [String: FileSystemError.Kind] = [:]
    }
    private let state = Locked(State())

    public init() {}

    public var displayName: String { "memory:" }

    public func put(_ path: String, _ bytes: [UInt8], modified: Double = 0) {
        state.withLock { $0.files[path] = (bytes, modified) }
    }

    public func append(_ path: String, _ bytes: [UInt8]) {
        state.withLock { $0.files[path, default: ([], 0)].bytes += bytes }
    }

    public func delete(_ path: String) { _ = state.withLock { $0.files.removeValue(forKey: path) } }
    public func contents(_ path: String) -> [UInt8]? { state.withLock { $0.files[path]?.bytes } }
    /// Makes the next reads of `path` fail with `kind` (e.g. `.notFound`, as if deleted mid-read).
    public func failReads(of path: String, with kind: FileSystemError.Kind) { state.withLock { $0.failReads[path] = kind } }
    public var bytesRead: Int64 { state.withLock { $0.bytesRead } }
    public func resetCounters() { state.withLock { $0.bytesRead = 0 } }

    public func listDirectory(_ path: String) async throws -> [FileEntry] {
        state.withLock { s in
            let prefix = path.isEmpty ? "" : path + "/"
            var seen = Set<String>()
            var out: [FileEntry] = []
            for (p, f) in s.files where p.hasPrefix(prefix) {
                let rest = p.dropFirst(prefix.count)
                if let slash = rest.firstIndex(of: "/") {
                    let dir = prefix + rest[..<slash]
                    if seen.insert(dir).inserted { out.append(FileEntry(path: dir, kind: .directory, size: 0, modified: 0)) }
                } else {
                    out.append(FileEntry(path: p, kind: .file, size: Int64(f.bytes.count), modified: f.modified))
                }
            }
            return out
        }
    }

    public func stat(_ path: String) async throws -> FileEntry? {
        state.withLock { s in s.files[path].map { FileEntry(path: path, kind: .file, size: Int64($0.bytes.count), modified: $0.modified) } }
    }

    public func read(_ path: String, offset: Int64, length: Int) async throws -> [UInt8] {
        try state.withLock { s in
            if let kind = s.failReads[path] { throw FileSystemError(kind, path: path, "injected failure") }
            guard let f = s.files[path] else { throw FileSystemError(.notFound, path: path, "no such file") }
            let start = Int(min(Int64(f.bytes.count), offset))
            let end = min(f.bytes.count, start + length)
            s.bytesRead += Int64(end - start)
            return Array(f.bytes[start..<end])
        }
    }

    public func remove(_ path: String) async throws {
        try state.withLock { s in
            guard s.files.removeValue(forKey: path) != nil else { throw FileSystemError(.notFound, path: path, "no such file") }
        }
    }

    public func move(_ path: String, intoDirectory directory: String) async throws {
        try state.withLock { s in
            guard let f = s.files.removeValue(forKey: path) else { throw FileSystemError(.notFound, path: path, "no such file") }
            s.files[directory + "/" + (path.split(separator: "/").last.map(String.init) ?? path)] = f
        }
    }
}
