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

    /// Appends one JSON object per row, keys in schema order.
    static func encode(_ batch: RecordBatch, into out: inout [UInt8]) {
        let keys: [[UInt8]] = batch.schema.fields.map { f in
            var k: [UInt8] = []
            JSONWriter.appendKey(f.name, to: &k)
            return k
        }
        let scales: [Int] = batch.schema.fields.map { if case let .decimal(_, s) = $0.type { s } else { 0 } }
        for r in 0..<batch.count {
            out.append(UInt8(ascii: "{"))
            for (c, col) in batch.columns.enumerated() {
                if c > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: keys[c])
                if col.isNull(r) { out.append(contentsOf: [110, 117, 108, 108]); continue } // null
                switch col.values {
                case let .bool(a): out.append(contentsOf: a[r] ? Array("true".utf8) : Array("false".utf8))
                case let .int32(a): JSONWriter.appendInt(Int64(a[r]), to: &out)
                case let .int64(a): JSONWriter.appendInt(a[r], to: &out)
                case let .float64(a): JSONWriter.appendDouble(a[r], to: &out)
                case let .decimal(a): out.append(contentsOf: Array(DecimalText.format(a[r], scale: scales[c]).utf8))
                case let .string(s): s.withBytes(r) { JSONWriter.appendString($0, to: &out) }
                case let .date(a):
                    out.append(UInt8(ascii: "\""))
                    CivilDate.appendDate(days: a[r], to: &out)
                    out.append(UInt8(ascii: "\""))
                case let .timestamp(a):
                    out.append(UInt8(ascii: "\""))
                    CivilDate.appendTimestamp(micros: a[r], to: &out)
                    out.append(UInt8(ascii: "\""))
                }
            }
            out.append(contentsOf: [UInt8(ascii: "}"), 0x0A])
        }
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
