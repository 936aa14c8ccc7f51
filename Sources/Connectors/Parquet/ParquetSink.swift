import ConnectorKit
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
            let files = try writer.commit(sequence: checkpoint.sequence)
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

    private func usable() throws -> HivePartitionedWriter {
        guard let writer else { throw ConnectorError(.sinkFailed, "the Parquet sink is not open", pipeline: pipeline) }
        guard !failed else { throw ConnectorError(.sinkFailed, "an earlier write failed; nothing more is committed until the sink is opened again", pipeline: pipeline) }
        return writer
    }
}
