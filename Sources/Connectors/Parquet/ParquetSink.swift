import ConnectorKit
import CoreConnectors
import Foundation
import Logging
import Parquet

/// Writes Parquet files in Hive layout, exactly once: each commit's files are named with the
/// commit's sequence, and `open` deletes files named beyond the committed sequence, so a replay
/// after a crash writes the same rows once. The engine keeps the checkpoint.
///
/// Encoding, compression and fsync are blocking work: they run on the sink's own thread.
public actor ParquetSink: Sink {
    nonisolated let executor = ThreadExecutor(name: "sluice-parquet")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public let root: String
    let configuration: ParquetConfiguration
    let options: ParquetWriterOptions
    let logger: Logger
    private var writer: HivePartitionedWriter?
    private var failed = false
    private var pipeline = ""
    /// The checkpoint of the last commit: where the next commit's input starts.
    private var lastCommitted = Checkpoint()

    public nonisolated let commitPolicy: CommitPolicy?

    public init(configuration: ParquetConfiguration, root: String, logger: Logger) throws {
        self.configuration = configuration
        self.root = root
        options = try configuration.writerOptions()
        self.logger = logger
        commitPolicy = CommitPolicy(rows: configuration.fileRows, seconds: configuration.fileInterval.seconds)
    }

    public func open(context: SinkContext) async throws -> Checkpoint {
        writer?.abandon()
        pipeline = context.pipeline
        let committed = context.committed ?? Checkpoint()
        try FileUtilities.makeDirectories(root)
        let removed = try HivePartitionedWriter.removeUncommitted(root: root, above: committed.sequence)
        if !removed.isEmpty {
            logger.info("removed files of a commit that did not complete", metadata: ["files": "\(removed.count)", "sequence_above": "\(committed.sequence)"])
        }
        lastCommitted = committed
        writer = HivePartitionedWriter(root: root, partitionColumn: configuration.partitionBy, options: options, sort: configuration.sort,
                                       metadata: [KeyValue(key: "sluice.pipeline", value: context.pipeline)])
        failed = false
        return committed
    }

    public func write(_ batch: RecordBatch) async throws -> [DeadLetter] {
        let writer = try usable()
        do {
            try writer.write(batch)
        } catch {
            failed = true
            throw error
        }
        return []
    }

    public func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint {
        let writer = try usable()
        do {
            let range = KeyValue(key: "sluice.input", value: Self.inputRange(from: lastCommitted, to: checkpoint))
            let files = try writer.commit(sequence: checkpoint.sequence, extra: [range])
            lastCommitted = checkpoint
            var out = checkpoint
            out.sinkState["parquet.files"] = files.map { String($0.dropFirst(root.count + 1)) }.joined(separator: "\n")
            if !files.isEmpty { logger.debug("parquet files committed", metadata: ["files": "\(files.count)", "sequence": "\(checkpoint.sequence)"]) }
            return out
        } catch {
            failed = true
            throw error
        }
    }

    public func close() async throws {
        writer?.abandon()
        writer = nil
        executor.shutdown()
    }

    /// The input a commit covers, as JSON: its sequence and, per source file, the byte range
    /// `[from, to)` read since the previous commit.
    static func inputRange(from previous: Checkpoint, to next: Checkpoint) -> String {
        var out: [UInt8] = Array("{\"sequence\":\(next.sequence),\"files\":{".utf8)
        var first = true
        for (file, cursor) in next.files.sorted(by: { $0.key < $1.key }) {
            let from = previous.files[file].map { $0.offset <= cursor.offset ? $0.offset : 0 } ?? 0
            guard from != cursor.offset else { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONWriter.appendString(file, to: &out)
            out += Array(":{\"from\":\(from),\"to\":\(cursor.offset)}".utf8)
        }
        out += Array("}}".utf8)
        return String(decoding: out, as: UTF8.self)
    }

    private func usable() throws -> HivePartitionedWriter {
        guard let writer else { throw ConnectorError(.sinkFailed, "the Parquet sink is not open", pipeline: pipeline) }
        guard !failed else { throw ConnectorError(.sinkFailed, "an earlier write failed; nothing more is committed until the sink is opened again", pipeline: pipeline) }
        return writer
    }
}
