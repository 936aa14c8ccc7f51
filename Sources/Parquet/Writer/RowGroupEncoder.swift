import ConnectorKit
import Foundation

/// Encodes a row group's column chunks, on two threads when the machine has two cores: column
/// chunks are independent, so each thread encodes its share into memory and the chunks are then
/// written in schema order. The second thread lives for one row group.
struct RowGroupEncoder {
    private var writers: [ColumnChunkWriter]

    init(options: ParquetWriterOptions) {
        let threads = options.encodingThreads ?? min(2, ProcessInfo.processInfo.activeProcessorCount)
        writers = (0..<max(1, min(2, threads))).map { _ in ColumnChunkWriter(options: options) }
    }

    /// Encodes `buffers` as one row group at the output's position and empties them, keeping their
    /// memory for the next row group or (`keepMemory` false) giving each column's back as soon as
    /// it is encoded.
    mutating func encode(_ buffers: inout [ColumnBuffer], ordinal: Int, to output: any ParquetOutput, keepMemory: Bool) throws(ParquetError) -> RowGroup {
        let rows = Int64(buffers[0].rows)
        if writers.count < 2 || buffers.count < 2 {
            let start = output.position
            var chunks: [ColumnChunk] = []
            for i in buffers.indices {
                chunks.append(try writers[0].write(buffers[i], to: output))
                if keepMemory { buffers[i].removeAll() } else { buffers[i].release() }
            }
            return Self.rowGroup(chunks, rows: rows, start: start, ordinal: ordinal)
        }
        // The larger columns alternate between the two threads.
        let order = buffers.indices.sorted { buffers[$0].plainSize > buffers[$1].plainSize }
        var second = Set<Int>()
        var load = (0, 0)
        for i in order {
            if load.1 < load.0 { second.insert(i); load.1 += buffers[i].plainSize } else { load.0 += buffers[i].plainSize }
        }
        let moved = second.sorted()
        let handed = moved.map { buffers[$0] }
        for i in moved { buffers[i].release() }
        let helper = ChunkThread(columns: handed, writer: writers[1])
        writers[1] = ColumnChunkWriter(options: writers[0].options)  // placeholder while the thread owns it
        helper.start()
        var encoded = [(ColumnChunk, [UInt8])?](repeating: nil, count: buffers.count)
        var failure: ParquetError?
        for i in buffers.indices where !second.contains(i) {
            do {
                encoded[i] = try Self.encodeInMemory(buffers[i], with: &writers[0])
            } catch {
                failure = error
                break
            }
            if keepMemory { buffers[i].removeAll() } else { buffers[i].release() }
        }
        let (results, writer) = helper.wait()
        writers[1] = writer
        if let failure { throw failure }
        for (k, i) in moved.enumerated() { encoded[i] = try results[k].get() }
        let start = output.position
        var chunks: [ColumnChunk] = []
        for case let (chunk, bytes)? in encoded {
            let base = output.position
            try output.write(bytes)
            chunks.append(Self.shifted(chunk, by: base))
        }
        return Self.rowGroup(chunks, rows: rows, start: start, ordinal: ordinal)
    }

    static func encodeInMemory(_ column: ColumnBuffer, with writer: inout ColumnChunkWriter) throws(ParquetError) -> (ColumnChunk, [UInt8]) {
        let memory = MemoryOutput()
        let chunk = try writer.write(column, to: memory)
        return (chunk, memory.bytes)
    }

    private static func shifted(_ chunk: ColumnChunk, by base: Int64) -> ColumnChunk {
        var c = chunk
        c.metaData!.dataPageOffset += base
        if let d = c.metaData!.dictionaryPageOffset { c.metaData!.dictionaryPageOffset = d + base }
        return c
    }

    private static func rowGroup(_ chunks: [ColumnChunk], rows: Int64, start: Int64, ordinal: Int) -> RowGroup {
        let uncompressed = chunks.reduce(Int64(0)) { $0 + $1.metaData!.totalUncompressedSize }
        let compressed = chunks.reduce(Int64(0)) { $0 + $1.metaData!.totalCompressedSize }
        return RowGroup(columns: chunks, totalByteSize: uncompressed, numRows: rows, fileOffset: start,
                        totalCompressedSize: compressed, ordinal: Int16(ordinal))
    }
}

/// Some column chunks of one row group encoded into memory on a thread of their own.
///
/// `@unchecked Sendable`: the columns and the writer are handed over before `start` and read back
/// only after `wait`; the condition (a pthread mutex and condition variable, which
/// ThreadSanitizer understands) orders the two threads' accesses.
private final class ChunkThread: @unchecked Sendable {
    private var columns: [ColumnBuffer]
    private var writer: ColumnChunkWriter
    private var results: [Result<(ColumnChunk, [UInt8]), ParquetError>] = []
    private let condition = NSCondition()
    private var finished = false

    init(columns: [ColumnBuffer], writer: ColumnChunkWriter) {
        self.columns = columns
        self.writer = writer
    }

    func start() {
        let thread = Thread { [self] in
            for k in columns.indices {
                results.append(Result { () throws(ParquetError) -> (ColumnChunk, [UInt8]) in
                    try RowGroupEncoder.encodeInMemory(columns[k], with: &writer)
                })
                columns[k].release()
            }
            condition.lock()
            finished = true
            condition.signal()
            condition.unlock()
        }
        thread.name = "sluice-parquet-chunks"
        thread.start()
    }

    func wait() -> ([Result<(ColumnChunk, [UInt8]), ParquetError>], ColumnChunkWriter) {
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
        return (results, writer)
    }
}
