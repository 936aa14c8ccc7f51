import ConnectorKit
#if canImport(Glibc)
import Glibc
#endif

/// Writes records as JSON lines. To a file it is exactly-once: the file's committed length is
/// saved in the checkpoint (which the engine keeps), and bytes past it (written before a crash or
/// a failed commit) are cut off on open. To standard output it is at-least-once (a pipe cannot be
/// taken back).
public actor JSONLSink: Sink {
    public static let outputKey = "sink"
    let path: String
    private var file: CommittedAppendFile?
    private var stdoutBuffer: [UInt8] = []
    /// Set when a write or commit failed; cleared by `open` (see the commit contract on `Sink`).
    private var failed = false

    public init(path: String) { self.path = path }

    public func open(context: SinkContext) async throws -> Checkpoint {
        let checkpoint = context.committed ?? Checkpoint()
        file = nil
        failed = false
        if path != "-" {
            file = try CommittedAppendFile(path: path, committedLength: checkpoint.outputs[Self.outputKey])
        }
        return checkpoint
    }

    public func write(_ batch: RecordBatch) async throws -> [DeadLetter] {
        try checkUsable()
        do {
            if let file {
                try file.append { JSONLSink.encode(batch, into: &$0) }
            } else {
                JSONLSink.encode(batch, into: &stdoutBuffer)
                if stdoutBuffer.count > 1 << 20 { flushStdout() }
            }
        } catch {
            failed = true
            throw error
        }
        return []
    }

    /// Hands what is buffered to the file (not yet fsynced): past the committed length until the
    /// commit, so a crash before it leaves bytes that the next `open` must cut off.
    public func flush() async throws -> [DeadLetter] {
        try checkUsable()
        do { try file?.flush() } catch {
            failed = true
            throw error
        }
        return []
    }

    public func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint {
        try checkUsable()
        var c = checkpoint
        do {
            if let file { c.outputs[Self.outputKey] = try file.sync() } else { flushStdout() }
        } catch {
            failed = true
            throw error
        }
        return c
    }

    /// Drops the file without syncing: bytes past the committed length are cut off on next open.
    /// Uncommitted output meant for standard output is dropped too.
    public func close() async throws {
        stdoutBuffer.removeAll()
        file = nil
    }

    private func checkUsable() throws {
        if failed || (file == nil && path != "-") {
            throw ConnectorError(.sinkFailed, "the jsonl output \(path) must be opened again after a failed write before anything is committed", plugin: "jsonl")
        }
    }

    private func flushStdout() {
        stdoutBuffer.withUnsafeBytes { try? FileUtilities.writeAll(1, $0, path: "standard output") }
        stdoutBuffer.removeAll(keepingCapacity: true)
    }

    static func encode(_ batch: RecordBatch, into out: inout [UInt8]) {
        JSONLines.append(batch, to: &out)
    }
}

/// Discards records; for benchmarks and dry runs. Checkpoints go to the state directory as usual.
public actor DiscardSink: Sink {
    public private(set) var rows = 0

    public init() {}

    public func open(context: SinkContext) async throws -> Checkpoint { context.committed ?? Checkpoint() }

    public func write(_ batch: RecordBatch) async throws -> [DeadLetter] {
        rows += batch.count
        return []
    }

    public func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint { checkpoint }
}

public struct DiscardConfiguration: PluginConfiguration {
    public static let sample = """
        type = "discard"
        """
}
